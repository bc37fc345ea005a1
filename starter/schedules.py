"""The upkeep Temporal Schedules, created (or brought up to date) idempotently at worker start; operators see
them under Schedules in the Web UI and with ``temporal schedule list``."""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleCalendarSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.common import SearchAttributePair, TypedSearchAttributes

from config.settings import Settings
from domain.upkeep import JOBS, Job, UpkeepInput
from workflows import search_attributes as sa
from workflows.upkeep import UpkeepWorkflow

# UTC hour of each daily run: lifecycle first (its warnings go out in the morning), the heavy deletes after it.
HOURS: dict[Job, int] = {"mandate-lifecycle": 2, "analytics-rollup": 3, "audit-retention": 4}


def schedule_id(job: Job) -> str:
    return f"duesflow-{job}"


def desired_schedule(job: Job, settings: Settings) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(
            UpkeepWorkflow.run,
            UpkeepInput(
                job=job,
                analytics_window_days=settings.analytics_window_days,
            ),
            id=f"duesflow-upkeep-{job}",
            task_queue=settings.task_queue,
            typed_search_attributes=TypedSearchAttributes(
                [SearchAttributePair(sa.DOCTYPE, "Upkeep"), SearchAttributePair(sa.DOCUMENT, job)]
            ),
            static_summary=f"Daily upkeep: {job}",
        ),
        spec=ScheduleSpec(
            calendars=[ScheduleCalendarSpec(hour=[ScheduleRange(HOURS[job])], minute=[ScheduleRange(0)])]
        ),
        # A day missed while the cluster was down runs once when it is back; never two runs of a job at once.
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=timedelta(days=1)),
    )


async def ensure_schedules(client: Client, settings: Settings) -> dict[str, str]:
    """Create each schedule, or update an existing one to this code's definition; returns what was done per id."""
    done = {}
    for job in JOBS:
        sid, schedule = schedule_id(job), desired_schedule(job, settings)
        try:
            await client.create_schedule(sid, schedule)
            done[sid] = "created"
        except ScheduleAlreadyRunningError:

            def update(current: ScheduleUpdateInput, schedule: Schedule = schedule) -> ScheduleUpdate:
                # The definition is this code's; the state (paused by an operator, with its note) is theirs.
                schedule.state = current.description.schedule.state
                return ScheduleUpdate(schedule=schedule)

            await client.get_schedule_handle(sid).update(update)
            done[sid] = "updated"
    return done
