"""`duesflow jobs …`: what users and admins see of submissions (starter/jobs.py), as readable tables."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer
from rich.table import Table

from domain.jobs import JOB_STATUSES, MAX_LIMIT, Job, JobDetail
from starter.cli_support import Doctype, Site, console, run, site_or_default

jobs_app = typer.Typer(
    help="Follow submissions: list, details, statistics; admins retry, cancel and clean up. "
    "Every command acts as the ERP user given with --user (and --role): users see their own jobs, holders of an "
    "admin role (DUESFLOW_ADMIN_ROLES) everyone's. A refusal exits with 3.",
    no_args_is_help=True,
)

User = Annotated[str, typer.Option("--user", help="the ERP user acting (their e-mail address)")]
Roles = Annotated[list[str] | None, typer.Option("--role", help="an ERP role of that user (repeat for several)")]
JobRef = Annotated[str, typer.Argument(help="workflow id, or the document's name (e.g. ACC-PAY-2025-00201)")]
# Choices and ranges are checked as the command line is read, before anything connects.
Status = StrEnum("Status", {name.upper(): name for name in JOB_STATUSES})  # type: ignore[misc]
Limit = Annotated[int, typer.Option(min=1, max=MAX_LIMIT, help=f"at most this many (1-{MAX_LIMIT})")]


def _progress(job: Job) -> str:
    if job.state == "rejected":
        return "rejected at step 1"
    return f"{job.steps_done}/{job.steps_total} · {job.progress_percent}%"


_STYLE = {"Completed": "green", "Failed": "red", "Retrying": "yellow", "Cancelled": "magenta"}


def _status(status: str) -> str:
    style = _STYLE.get(status)
    return f"[{style}]{status}[/{style}]" if style else status


@jobs_app.command("list")
def list_(
    user: User,
    role: Roles = None,
    status: Annotated[Status | None, typer.Option(case_sensitive=False, help="only jobs in this status")] = None,
    doctype: Annotated[Doctype | None, typer.Option(help="only documents of this doctype")] = None,
    limit: Limit = 50,
    site: Site = None,
) -> None:
    """Jobs, newest first, with status, step progress and last error."""
    where = site_or_default(site)
    wanted = {"status": status.value if status else None, "doctype": doctype.value if doctype else None}
    jobs = run(lambda c: c.job_api.jobs(where, user, role or [], **wanted, limit=limit))
    table = Table(title=f"{len(jobs)} job(s)")
    for col in ("submitted (UTC)", "document", "status", "steps", "last error", "workflow id"):
        table.add_column(col, overflow="fold")
    for j in jobs:
        table.add_row(
            f"{j.submitted_at:%Y-%m-%d %H:%M:%S}",
            f"{j.doctype} {j.name}",
            _status(j.status),
            _progress(j),
            j.last_error or "",
            j.workflow_id,
        )
    console.print(table)


@jobs_app.command()
def show(job: JobRef, user: User, role: Roles = None, site: Site = None) -> None:
    """One job: status, summary, and each step with attempts, duration and last failure."""
    detail: JobDetail = run(lambda c: c.job_api.job(site_or_default(site), job, user, role or []))
    console.print(f"[bold]{detail.workflow_id}[/bold]  run {detail.run_id}")
    console.print(f"{detail.summary or detail.doctype + ' ' + detail.name}")
    console.print(
        f"status {_status(detail.status)} · state {detail.state} · {_progress(detail)} · submitted "
        f"{detail.submitted_at:%Y-%m-%d %H:%M:%S} UTC by {detail.submitted_by or 'unknown'}"
        + (f" · closed {detail.closed_at:%Y-%m-%d %H:%M:%S} UTC" if detail.closed_at else "")
    )
    for err in detail.verdict_errors:
        console.print(f"  rejected: {err}")
    table = Table()
    for col in ("step", "status", "attempts", "duration", "last failure"):
        table.add_column(col, overflow="fold")
    for s in detail.steps:
        duration = f"{s.duration_seconds:.3f} s" if s.duration_seconds is not None else ""
        table.add_row(s.name, s.status, str(s.attempts), duration, s.last_failure or "")
    console.print(table)


@jobs_app.command()
def stats(user: User, role: Roles = None, site: Site = None) -> None:
    """Counts by status, success rate, the last 24 hours, and the most common errors."""
    st = run(lambda c: c.job_api.job_statistics(site_or_default(site), user, role or []))
    table = Table(title=f"{st.total} job(s)")
    for col in st.by_status:
        table.add_column(col)
    table.add_row(*(str(n) for n in st.by_status.values()))
    console.print(table)
    rate = f"{st.success_rate:.1%}" if st.success_rate is not None else "n/a (nothing ended yet)"
    console.print(f"success rate {rate}")
    console.print("last 24 h: " + ", ".join(f"{k} {v}" for k, v in st.last_24h.items()))
    for message, count in st.top_errors:
        console.print(f"  {count}× {message}")


@jobs_app.command()
def retry(job: JobRef, user: User, role: Roles = None, site: Site = None) -> None:
    """(admin) Re-run a failed submission from its failed step; completed steps are not repeated."""
    report = run(lambda c: c.job_api.retry(site_or_default(site), job, user, role or []))
    console.print(f"{report.workflow_id}: re-running {', '.join(report.steps)} in run {report.new_run_id}")


@jobs_app.command()
def cancel(job: JobRef, user: User, role: Roles = None, site: Site = None) -> None:
    """(admin) Cancel a queued or running submission: pending steps stop, the cancellation is audited."""
    done = run(lambda c: c.job_api.cancel(site_or_default(site), job, user, role or []))
    console.print(f"{done.workflow_id}: cancellation requested")


@jobs_app.command()
def cleanup(
    user: User,
    role: Roles = None,
    days: Annotated[int, typer.Option(min=1, max=365, help="remove records older than this many days (1-365)")] = 7,
    site: Site = None,
) -> None:
    """(admin) Remove duesflow's own records (notifications) older than --days."""
    removed = run(lambda c: c.job_api.cleanup(site_or_default(site), user, role or [], days=days))
    console.print(", ".join(f"{n} {what} removed" for what, n in removed.items()))


@jobs_app.command()
def notifications(
    user: User,
    all_: Annotated[bool, typer.Option("--all", help="also the ones already read")] = False,
    mark_read: Annotated[bool, typer.Option("--mark-read", help="then mark them all read")] = False,
    limit: Limit = 50,
    site: Site = None,
) -> None:
    """The user's notifications (completed, failed, rejected, cancelled submissions), newest first."""
    where = site_or_default(site)
    notes = run(lambda c: c.job_api.notifications(where, user, unread_only=not all_, limit=limit))
    table = Table(title=f"{len(notes)} notification(s)")
    for col in ("id", "when (UTC)", "kind", "message", "read"):
        table.add_column(col, overflow="fold")
    for n in notes:
        table.add_row(
            str(n.id),
            f"{n.created_at:%Y-%m-%d %H:%M:%S}",
            _status(n.kind.title()),
            n.message,
            "yes" if n.read_at else "",
        )
    console.print(table)
    if mark_read:
        changed = run(lambda c: c.job_api.mark_read(where, user))
        console.print(f"{changed} marked read")
