"""Rules of the daily upkeep (docs/business-rules.md §4 lifecycle, §5 roll-up, §1 retention), pure: the jobs'
activities apply them to the ledger."""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, Field

Job = Literal["mandate-lifecycle", "analytics-rollup", "audit-retention"]
JOBS: tuple[Job, ...] = ("mandate-lifecycle", "analytics-rollup", "audit-retention")

LAPSE_MONTHS = 36
WARN_DAYS_BEFORE_EXPIRY = 30
# Retention of audit records by severity (docs/business-rules.md §1; why: docs/decisions/0005-retention.md);
# critical: 7 years.
RETENTION_DAYS = {"info": 30, "warning": 90, "error": 365}
RETENTION_MONTHS_CRITICAL = 84


@dataclass(frozen=True)
class UpkeepSchedule:
    """The Temporal Schedule of one daily job, as data: the worker creates it at start, or brings it up to date
    (deployment/schedules.py turns it into Temporal's ``Schedule``). Operators see it under Schedules in the Web UI."""

    job: Job
    hour: int  # UTC; the run starts on the hour
    # A day missed while the cluster was down runs once when it is back (never two runs of a job at once).
    catchup_window: dt.timedelta = dt.timedelta(days=1)
    doctype: str = "Upkeep"  # DuesflowDoctype of its runs (DuesflowDocument is the job)

    @property
    def id(self) -> str:
        return schedule_id(self.job)

    @property
    def workflow_id(self) -> str:
        return f"duesflow-upkeep-{self.job}"

    @property
    def summary(self) -> str:
        return f"Daily upkeep: {self.job}"


def schedule_id(job: Job) -> str:
    return f"duesflow-{job}"


# UTC hour of each daily run: lifecycle first (its warnings go out in the morning), the heavy deletes after it.
SCHEDULE_HOURS: dict[Job, int] = {"mandate-lifecycle": 2, "analytics-rollup": 3, "audit-retention": 4}
SCHEDULES: tuple[UpkeepSchedule, ...] = tuple(UpkeepSchedule(job, SCHEDULE_HOURS[job]) for job in JOBS)


class UpkeepInput(BaseModel):
    job: Job
    # None: the day the run was scheduled for (the workflow's clock). A date re-runs a missed day.
    on_date: dt.date | None = None
    # None: every site of the ledger (what the schedules do); tests and operators may name one.
    site: str | None = None
    analytics_window_days: int = 90


class UpkeepReport(BaseModel):
    """What one run changed; a second run of the same day reports nothing changed."""

    job: Job
    on_date: dt.date
    site: str | None = None
    changed: dict[str, int] = Field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.changed.values())


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day ``months`` later (or earlier), clamped to the month's end (29 Feb + 12 months = 28 Feb)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return dt.date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


@dataclass(frozen=True)
class MandateFacts:
    site: str
    mandate_id: str
    member: str
    status: str
    sign_date: dt.date
    expiry_date: dt.date | None
    last_presented: dt.date | None  # newest collection presented (Collected or Returned: both count)
    warned: bool  # a warning for this expiry date was already sent


Action = Literal["expire_passed", "expire_dormant", "warn"]


def lifecycle_action(m: MandateFacts, on_date: dt.date) -> Action | None:
    """What the daily run does to one mandate: expire it (expiry date passed, or 36 months without a presented
    collection, counted from the signature for a mandate never used), warn once 30 days before expiry, or nothing."""
    if m.status not in ("Active", "Suspended"):
        return None
    if m.expiry_date is not None and m.expiry_date < on_date:
        return "expire_passed"
    if add_months(m.last_presented or m.sign_date, LAPSE_MONTHS) <= on_date:
        return "expire_dormant"
    if (
        m.expiry_date is not None
        and not m.warned
        and m.expiry_date <= on_date + dt.timedelta(days=WARN_DAYS_BEFORE_EXPIRY)
    ):
        return "warn"
    return None


def retention_cutoffs(on_date: dt.date) -> dict[str, dt.datetime]:
    """Per severity: records from before this instant are past retention on ``on_date``."""
    start = dt.datetime.combine(on_date, dt.time(0), tzinfo=dt.UTC)
    cutoffs = {severity: start - dt.timedelta(days=days) for severity, days in RETENTION_DAYS.items()}
    cutoffs["critical"] = dt.datetime.combine(
        add_months(on_date, -RETENTION_MONTHS_CRITICAL), dt.time(0), tzinfo=dt.UTC
    )
    return cutoffs


def rollup_before(on_date: dt.date, window_days: int) -> dt.date:
    """Detail facts posted before this day are older than the window and go into monthly summaries."""
    return on_date - dt.timedelta(days=window_days)
