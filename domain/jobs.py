"""Jobs as users and admins see them (docs/business-rules.md §8): one job per submission workflow. Pure rules: the
status a user reads is derived from what Temporal reports, never stored on the side."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, Field

from domain.messages import PipelineResult

JobStatus = Literal["Queued", "Running", "Retrying", "Completed", "Failed", "Cancelled"]
JOB_STATUSES: tuple[JobStatus, ...] = ("Queued", "Running", "Retrying", "Completed", "Failed", "Cancelled")
# A running run is one of these according to its steps, which Temporal's visibility does not see.
LIVE_STATUSES: tuple[JobStatus, ...] = ("Queued", "Running", "Retrying")
MAX_LIMIT = 100
# Bookkeeping activities of the pipelines (their activity ids) are not steps a user tracks.
AUDIT_FAILURE_PREFIX = "audit-failure:"
AUDIT_CANCELLATION_ID = "audit-cancellation"
NOTIFY_ID = "notify"
BOOKKEEPING_PREFIXES = (AUDIT_FAILURE_PREFIX, AUDIT_CANCELLATION_ID, NOTIFY_ID)


@dataclass(frozen=True)
class RunShape:
    """How a run shows in Temporal: its execution status (a ``WorkflowExecutionStatus`` name: RUNNING, COMPLETED,
    FAILED, CANCELED, TERMINATED, TIMED_OUT, CONTINUED_AS_NEW) is one of ``executions`` and, when ``states`` is
    given, its DuesflowState one of ``states``."""

    executions: tuple[str, ...]
    states: tuple[str, ...] | None = None

    def fits(self, execution: str, state: str | None) -> bool:
        return execution in self.executions and (self.states is None or state in self.states)


RUNNING = RunShape(("RUNNING",))
# What identifies each job status in Temporal's terms, written down once: ``derive_status`` reads it, and so does the
# job API's visibility query for a status filter (starter/job_queries.py). A completed pipeline's state is one of the
# end states its ``finish`` sets (rejected, accepted, completed, completed_with_failures).
STATUS_SHAPES: dict[JobStatus, tuple[RunShape, ...]] = {
    "Queued": (RUNNING,),
    "Running": (RUNNING,),
    "Retrying": (RUNNING,),
    "Completed": (RunShape(("COMPLETED",), ("completed", "accepted")),),
    "Failed": (RunShape(("FAILED", "TIMED_OUT")), RunShape(("COMPLETED",), ("completed_with_failures", "rejected"))),
    "Cancelled": (RunShape(("CANCELED", "TERMINATED")),),
}


class StepView(BaseModel):
    name: str
    status: Literal["pending", "running", "retrying", "done", "failed", "cancelled", "skipped"]
    attempts: int = 0
    started_at: dt.datetime | None = None
    ended_at: dt.datetime | None = None
    duration_seconds: float | None = None
    last_failure: str | None = None


class Job(BaseModel):
    workflow_id: str
    run_id: str | None
    site: str
    doctype: str
    name: str
    summary: str | None = None
    status: JobStatus
    state: str | None = Field(None, description="DuesflowState: submitted, accepted, rejected, completed, …")
    submitted_at: dt.datetime
    submitted_by: str | None = Field(None, description="the ERP user who submitted it (from the workflow's input)")
    closed_at: dt.datetime | None = None
    steps_done: int = 0
    steps_total: int = 0
    last_error: str | None = None

    @property
    def progress_percent(self) -> int:
        """Step 1 counts as a step: an accepted document with nothing else to do is 100 %."""
        total = self.steps_total + 1
        done = self.steps_done + (1 if self.state not in (None, "submitted") else 0)
        return 100 if self.status in ("Completed",) else min(100, round(100 * done / total))


class JobDetail(Job):
    steps: list[StepView] = Field(default_factory=list)
    verdict_errors: list[str] = Field(default_factory=list)
    history_events: int = 0


class JobStatistics(BaseModel):
    total: int
    by_status: dict[str, int]
    success_rate: float | None = Field(description="completed / (completed + failed); None before any ended")
    last_24h: dict[str, int]
    top_errors: list[tuple[str, int]]


class RetryReport(BaseModel):
    """What ``retry`` did: the failed run it replaced, the new run, and the steps that run again."""

    workflow_id: str
    failed_run_id: str
    new_run_id: str
    steps: list[str]


def derive_status(execution: str, state: str | None, steps: Iterable[StepView]) -> JobStatus:
    """``execution`` is Temporal's execution status name (RUNNING, COMPLETED, FAILED, CANCELED, TERMINATED,
    TIMED_OUT, CONTINUED_AS_NEW); ``state`` the pipeline's DuesflowState. The status whose shape
    (``STATUS_SHAPES``) the run has, a running run's from its steps. A run no status describes (continued as new,
    or completed without an end state) did not do its job: Failed, though no status filter lists it."""
    if RUNNING.fits(execution, state):
        return _live_status(state, steps)
    for status, shapes in STATUS_SHAPES.items():
        if status not in LIVE_STATUSES and any(shape.fits(execution, state) for shape in shapes):
            return status
    return "Failed"


def _live_status(state: str | None, steps: Iterable[StepView]) -> JobStatus:
    statuses = {s.status for s in steps}
    if "retrying" in statuses:
        return "Retrying"
    # Waiting for step 1, or for a worker to take its first background step (e.g. background paused).
    if state in (None, "submitted") or not statuses & {"running", "done", "failed"}:
        return "Queued"
    return "Running"


def final_state(result: PipelineResult) -> str:
    """The DuesflowState a pipeline set last (``finish`` in workflows/submission_steps.py), from its result: what
    a closed run's state is while visibility has not caught up with it."""
    if not result.verdict.accepted:
        return result.verdict.status
    if any(s.status == "failed" for s in result.steps):
        return "completed_with_failures"
    return "completed"


def top_errors(jobs: Iterable[Job], top: int = 5) -> list[tuple[str, int]]:
    """The most common last errors of failed jobs, grouped by their first line."""
    return Counter(_error_kind(j.last_error) for j in jobs if j.status == "Failed" and j.last_error).most_common(top)


def _error_kind(message: str) -> str:
    """Group errors by their first part: "sepa failed: OperationalError (SQLSTATE 08006)" and the same error
    of another document count as one."""
    return message.split("\n", 1)[0][:160]


def is_step(activity_id: str) -> bool:
    return not activity_id.startswith(BOOKKEEPING_PREFIXES)


def check_limit(limit: int) -> int:
    if not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be between 1 and {MAX_LIMIT}, got {limit!r}")
    return limit


def check_status(status: str | None) -> JobStatus | None:
    if status is None:
        return None
    for known in JOB_STATUSES:
        if status.lower() == known.lower():
            return known
    raise ValueError(f"status must be one of {', '.join(JOB_STATUSES)}, got {status!r}")


def check_days(days: int) -> int:
    if not isinstance(days, int) or not 1 <= days <= 365:
        raise ValueError(f"days must be a whole number from 1 to 365, got {days!r}")
    return days
