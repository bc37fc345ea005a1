"""`duesflow` command line: run the stack, submit documents, import reference data, show progress and reads.

Configuration comes from DUESFLOW_* environment variables (see README); every command has --help. Exit codes: 0 done,
1 not done (a rejected document, a service that did not answer), 2 a configuration or usage problem, 3 refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import sys
from importlib.metadata import version as installed_version
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import Progress as Bar
from rich.table import Table
from sqlalchemy.exc import DBAPIError

from config.settings import ConfigError, user_key_of
from deployment.codec_server import serve as serve_codec
from deployment.encryption import EncryptionCodec, keyring_from_settings
from domain.ids import workflow_id
from domain.upkeep import JOBS
from domain.verdicts import DocumentRejected
from starter.backfill import BackfillReport, read_documents
from starter.backfill import backfill as run_backfill
from starter.cli_jobs import jobs_app
from starter.cli_support import (
    Doctype,
    Site,
    as_row,
    console,
    fail,
    ledger_problem,
    print_rows,
    read_json,
    run,
    settings_or_fail,
    site_or_default,
    warn_unknown_variables,
)
from starter.client import DuesflowClient

app = typer.Typer(help=__doc__, no_args_is_help=True, add_completion=False)
db_app = typer.Typer(help="Ledger database commands.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(jobs_app, name="jobs")


def _show_version(value: bool) -> None:
    if value:
        console.print(f"duesflow {installed_version('duesflow')}")
        raise typer.Exit()


@app.callback()
def _every_command(
    version: Annotated[
        bool, typer.Option("--version", is_eager=True, callback=_show_version, help="print the version and exit")
    ] = False,
) -> None:
    warn_unknown_variables()


@app.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
)
def stack(ctx: typer.Context) -> None:
    """Start everything (Temporal + Web UI, PostgreSQL, Redis, migrations, worker) and run the demo.

    Options: --once, --data-dir, --members, --ui-port (duesflow stack --help)."""
    # The local stack (infra/stack.py) uses this package's client, so it runs as its own program with the arguments
    # given (help included) instead of being imported here: the callers' layer never depends on infra.
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, "-m", "infra.stack", *ctx.args])


@app.command()
def submit(
    files: Annotated[
        list[Path], typer.Argument(help="ERPNext doc.as_dict() JSON files (Payment Entry / Sales Invoice)")
    ],
    user: Annotated[str, typer.Option(help="the submitting ERP user")],
    site: Site = None,
    wait: Annotated[bool, typer.Option(help="also wait for the background steps")] = False,
) -> None:
    """Submit documents and print each verdict (accepted / rejected with field errors / pending)."""
    docs = [read_json(f) for f in files]

    async def work(client: DuesflowClient) -> int:
        rejected = 0
        for path, doc in zip(files, docs, strict=True):
            verdict = await client.submit(doc, site=site_or_default(site), user=user)
            console.print(f"{path.name}: [bold]{verdict.status}[/bold] {verdict.workflow_id or ''}")
            for err in verdict.errors:
                console.print(f"  {err.field}: {err.message} ({err.code})")
            rejected += verdict.status == "rejected"
            if wait and verdict.workflow_id and verdict.status == "accepted":
                _print_steps((await client.wait(verdict.workflow_id)).steps)
        return rejected

    raise typer.Exit(1 if run(work) else 0)


@app.command("import")
def import_(
    file: Annotated[
        Path,
        typer.Argument(
            help="JSON: a list of Customer/Member/SEPA Mandate docs, or an object "
            "with customers, members and sepa_mandates lists"
        ),
    ],
    site: Site = None,
) -> None:
    """Import reference data (validated first; nothing is written unless every document is valid)."""
    data = read_json(file)
    if isinstance(data, dict):
        site = site or data.get("site")
        data = [*data.get("customers", []), *data.get("members", []), *data.get("sepa_mandates", [])]
    if not isinstance(data, list):
        fail(f"{file}: expected a list of documents or an object with customers/members/sepa_mandates")

    async def work(client: DuesflowClient) -> Any:
        with Bar(console=console) as bar:
            task = bar.add_task("importing", total=len(data))
            return await client.load_reference_data(
                data, site=site_or_default(site), on_progress=lambda done, total: bar.update(task, completed=done)
            )

    try:
        report = run(work)
    except DocumentRejected as exc:
        for err in exc.errors:
            console.print(f"  {err.field}: {err.message} ({err.code})")
        fail(f"{len(exc.errors)} problem(s); nothing was imported", 1)
    console.print(f"imported {report.customers} customers, {report.members} members, {report.mandates} mandates")


@app.command()
def backfill(
    paths: Annotated[
        list[Path], typer.Argument(help="ERPNext JSON files (one document or a list each) or directories of them")
    ],
    user: Annotated[str, typer.Option(help="the ERP user the backfill runs as")],
    site: Site = None,
    concurrency: Annotated[int, typer.Option(min=1, max=32, help="documents in flight at once")] = 4,
) -> None:
    """Push historical documents through the pipelines at BULK priority: live submissions keep going first.

    Invoices go first, then credit notes, payments and cancellations (each validated against the earlier ones).
    Re-running it is safe: documents already submitted return their recorded verdicts.
    """
    try:
        docs = read_documents(paths)
    except ValueError as exc:
        fail(str(exc))

    async def work(client: DuesflowClient) -> BackfillReport:
        with Bar(console=console) as bar:
            task = bar.add_task("backfill (bulk priority)", total=len(docs))
            return await run_backfill(
                client.submit,
                docs,
                site=site_or_default(site),
                user=user,
                concurrency=concurrency,
                on_progress=lambda done, total: bar.update(task, completed=done),
            )

    report = run(work)
    console.print(f"{report.accepted} accepted, {len(report.rejected)} rejected, {report.pending} pending")
    for name, error in report.rejected:
        console.print(f"  {name}: {error}")
    if report.pending:
        console.print("pending: no verdict in time; they run when a worker is free (see `duesflow jobs list`)")


@app.command("user-key")
def user_key(user: Annotated[str, typer.Argument(help="the ERP user (e-mail address)")]) -> None:
    """Print the pseudonym that search attributes use for a user (DuesflowUser), for `temporal workflow list`."""
    settings = settings_or_fail()
    try:
        console.print(user_key_of(settings, user))
    except ValueError as exc:
        fail(str(exc))


@app.command("codec-server")
def codec_server(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="port to listen on")] = 8234,
) -> None:
    """Serve /decode and /encode for the Web UI (--ui-codec-endpoint http://HOST:PORT/TOKEN) and the temporal CLI
    (TEMPORAL_CODEC_ENDPOINT, TEMPORAL_CODEC_AUTH="Bearer TOKEN"), with this deployment's encryption keys. Expose it
    to operators only: whoever holds its token reads the personal data in workflow payloads."""
    settings = settings_or_fail()
    if settings.codec_server_token is None:
        fail("DUESFLOW_CODEC_SERVER_TOKEN is not set: give the codec server a token of at least 16 characters")
    try:
        keyring = keyring_from_settings(settings)
    except ConfigError as exc:
        fail(str(exc))

    async def serve_forever() -> None:
        runner = await serve_codec(
            EncryptionCodec(keyring),
            host=host,
            port=port,
            token=settings.codec_server_token.get_secret_value(),
            origins=settings.codec_server_origins,
        )
        console.print(f"codec server on http://{host}:{port} for {', '.join(settings.codec_server_origins)}")
        try:
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve_forever())


@app.command()
def progress(
    doctype: Annotated[Doctype, typer.Argument(help="the document's doctype")],
    name: Annotated[str, typer.Argument(help="document name, e.g. ACC-PAY-2025-00201")],
    site: Site = None,
) -> None:
    """Show a document's verdict and the state of each background step."""
    wid = workflow_id(site_or_default(site), doctype.value, name)
    result = run(lambda client: client.progress(wid))
    verdict = result.verdict.status if result.verdict else "pending"
    console.print(f"{wid}: verdict [bold]{verdict}[/bold]")
    _print_steps(result.steps)


@app.command()
def history(member: Annotated[str, typer.Argument(help="member id")], site: Site = None) -> None:
    """Show a member's payment history (served from the cache when warm)."""
    rows = run(lambda client: client.member_history(site_or_default(site), member))
    table = Table(title=f"history of {member}")
    for col in ("#", "document", "type", "posted", "due", "amount", "paid", "outstanding", "status", "mandate"):
        table.add_column(col)
    for r in map(as_row, rows):
        table.add_row(
            str(r["position"]),
            r["invoice"] or r["payment_entry"] or "",
            r["transaction_type"],
            str(r["posting_date"]),
            str(r["due_date"] or ""),
            str(r["amount"]),
            str(r["paid_amount"]),
            str(r["outstanding_amount"]),
            r["payment_status"],
            r["mandate_reference"] or "",
        )
    console.print(table)


@app.command()
def totals(
    date_from: Annotated[dt.datetime, typer.Argument(formats=["%Y-%m-%d"], help="first day, YYYY-MM-DD")],
    date_to: Annotated[dt.datetime, typer.Argument(formats=["%Y-%m-%d"], help="last day, YYYY-MM-DD")],
    site: Site = None,
) -> None:
    """Daily payment totals per mode of payment."""
    rows = run(lambda client: client.daily_totals(site_or_default(site), date_from.date(), date_to.date()))
    table = Table(title="daily totals")
    for col in ("date", "mode", "count", "total"):
        table.add_column(col)
    for r in map(as_row, rows):
        table.add_row(str(r["posting_date"]), str(r["mode_of_payment"]), str(r["count"]), str(r["total"]))
    console.print(table)


Day = Annotated[
    dt.datetime | None, typer.Option("--on", formats=["%Y-%m-%d"], help="the day, YYYY-MM-DD (default: today)")
]


def _day(on: dt.datetime | None) -> dt.date:
    return on.date() if on else dt.date.today()


@app.command()
def reminders(invoice: Annotated[str, typer.Argument(help="Sales Invoice name")], site: Site = None) -> None:
    """An invoice's reminders: levels sent (when, message id), the next level and when it is due, the state."""
    view = run(lambda client: client.reminders(site_or_default(site), invoice))
    if view is None:
        fail(f"{invoice} has no reminder case (paid in time, below the minimum amount, or unknown)", 1)
    console.print(
        f"{invoice} · member {view.member} · state [bold]{view.state}[/bold]"
        + (f" · level {view.next_level} due {view.next_due:%Y-%m-%d %H:%M} UTC" if view.next_due else "")
    )
    print_rows(view.sent, ["level", "outcome", "sent_at", "days_overdue", "amount", "message_id"])


@app.command()
def overdue(on: Day = None, site: Site = None) -> None:
    """What each member owes on a day, worst first, with the band (Critical > 60 days, Urgent > 30, Overdue > 14)."""
    lines = run(lambda client: client.overdue_report(site_or_default(site), _day(on)))
    print_rows(lines, ["member", "band", "days_overdue", "outstanding", "invoices"])


@app.command("handed-off")
def handed_off(site: Site = None) -> None:
    """Invoices whose final notice went unanswered, for the board (suspension or collection)."""
    rows = run(lambda client: client.handed_off(site_or_default(site)))
    print_rows(rows, ["invoice", "member", "outstanding", "due_date", "levels_sent", "handed_off_at"])


@app.command()
def retries(on: Day = None, site: Site = None) -> None:
    """SEPA retry collections the ERP should present by a day, and the returns that need a person."""
    due = run(lambda client: client.due_collection_retries(site_or_default(site), _day(on)))
    print_rows(due, ["due_date", "invoice", "mandate_id", "attempt", "reason_code", "outstanding"], "due retries")
    attention = run(lambda client: client.returns_needing_attention(site_or_default(site)))
    print_rows(
        attention, ["invoice", "mandate_id", "reason_code", "decision", "return_payment"], "returns needing a person"
    )


@app.command()
def upkeep(
    job: Annotated[str, typer.Argument(help="mandate-lifecycle | analytics-rollup | audit-retention")],
    on: Day = None,
    site: Annotated[str | None, typer.Option(help="one ERP site (default: every site)")] = None,
) -> None:
    """Run an upkeep job now (as its schedule would, e.g. for a missed day) and print what it changed."""
    if job not in JOBS:
        fail(f"job must be one of {', '.join(JOBS)}, got {job!r}")
    report = run(lambda client: client.run_upkeep(job, _day(on), site))  # type: ignore[arg-type]
    console.print(f"{report.job} on {report.on_date}: " + (", ".join(f"{k} {v}" for k, v in report.changed.items())))


@app.command()
def schedules() -> None:
    """Create the upkeep Temporal Schedules, or bring them up to date (the worker does this at start)."""
    done = run(lambda client: client.ensure_schedules())
    for sid, what in done.items():
        console.print(f"{sid}: {what}")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the Alembic migrations to DUESFLOW_DATABASE_URL."""
    from ledger.migrate import upgrade

    url = settings_or_fail().database_url
    try:
        upgrade(url)
    except DBAPIError as exc:
        fail(*ledger_problem(exc, url))
    console.print("ledger is at the newest migration")


def _print_steps(steps: list[Any]) -> None:
    table = Table()
    for col in ("step", "status", "attempts", "detail / last error"):
        table.add_column(col)
    for s in steps:
        table.add_row(s.name, s.status, str(s.attempts), s.last_error or s.detail)
    console.print(table)


if __name__ == "__main__":
    sys.exit(app())
