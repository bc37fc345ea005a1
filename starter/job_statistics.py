"""Job statistics of a scope (a site's jobs, or one submitter's): counts by status, success rate and the last 24
hours from visibility counts, the most common errors from the newest failed jobs."""

from __future__ import annotations

import asyncio
import datetime as dt

from temporalio.client import Client

from domain.jobs import JOB_STATUSES, JobStatistics, JobStatus, top_errors
from starter.job_queries import RUNNING_CLAUSE, STATUS_CLAUSE, count, replaced_runs, runs, started_since
from starter.job_views import load_job

MAX_INSPECTED = 200  # running jobs whose history statistics reads
MAX_FAILED = 1000  # failed runs statistics checks for having been retried
MAX_ERRORS_FROM = 100  # newest failed jobs whose errors are grouped


async def job_statistics(client: Client, scope: str) -> JobStatistics:
    """``scope`` is a visibility query of the jobs counted (starter/job_queries.py ``scope``)."""
    day_ago = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=24)).replace(microsecond=0)
    since = started_since(day_ago)
    # Closed runs are counted first: a run listed as running below was running then too, so no job is counted
    # twice while visibility catches up with runs that close meanwhile.
    counts: dict[JobStatus, int] = dict.fromkeys(JOB_STATUSES, 0)
    for closed in ("Completed", "Failed", "Cancelled"):
        counts[closed] = await count(client, f"{scope} AND {STATUS_CLAUSE[closed]}")
    # Queued, Running and Retrying differ only in the history: inspect the newest running jobs; with a long
    # backlog (background paused) the older ones count as Queued, which is what they are then.
    running_total = await count(client, f"{scope} AND {RUNNING_CLAUSE}")
    running = await runs(client, f"{scope} AND {RUNNING_CLAUSE}", MAX_INSPECTED)
    live = await asyncio.gather(*(load_job(client, e) for e in running))
    for job in live:
        counts[job.status] += 1  # from the history: a run that closed since the listing counts as what it is
    counts["Queued"] += max(0, running_total - len(live))
    # A job is its workflow id, and its newest run decides. A retried job's failed run stays in visibility
    # beside its new run (only failed runs are retried): it is not counted, here nor in the last 24 hours.
    failed = await runs(client, f"{scope} AND {STATUS_CLAUSE['Failed']}", MAX_FAILED)
    replaced = await replaced_runs(client, failed)
    counts["Failed"] -= len(replaced)
    replaced_recently = sum(1 for e in failed if e.run_id in replaced and e.start_time > day_ago)
    current = [e for e in failed if e.run_id not in replaced][:MAX_ERRORS_FROM]
    failed_jobs = await asyncio.gather(*(load_job(client, e) for e in current))
    ended = counts["Completed"] + counts["Failed"]
    return JobStatistics(
        total=sum(counts.values()),
        by_status=dict(counts),
        success_rate=round(counts["Completed"] / ended, 4) if ended else None,
        last_24h={
            "submitted": await count(client, f"{scope} AND {since}") - replaced_recently,
            "completed": await count(client, f"{scope} AND {since} AND {STATUS_CLAUSE['Completed']}"),
            "failed": await count(client, f"{scope} AND {since} AND {STATUS_CLAUSE['Failed']}") - replaced_recently,
        },
        top_errors=top_errors(failed_jobs),
    )
