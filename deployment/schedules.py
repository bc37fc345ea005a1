"""Creating the upkeep Temporal Schedules (domain/upkeep.py ``SCHEDULES``), or bringing them up to date,
idempotently: the worker does it at start, operators with ``duesflow schedules``
(``DuesflowClient.ensure_schedules``)."""

from __future__ import annotations

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
from domain.upkeep import SCHEDULES, UpkeepInput, UpkeepSchedule
from workflows import search_attributes as sa
from workflows.upkeep import UpkeepWorkflow


def desired_schedule(definition: UpkeepSchedule, settings: Settings) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(
            UpkeepWorkflow.run,
            UpkeepInput(
                job=definition.job,
                analytics_window_days=settings.analytics_window_days,
            ),
            id=definition.workflow_id,
            task_queue=settings.task_queue,
            typed_search_attributes=TypedSearchAttributes(
                [SearchAttributePair(sa.DOCTYPE, definition.doctype), SearchAttributePair(sa.DOCUMENT, definition.job)]
            ),
            static_summary=definition.summary,
        ),
        spec=ScheduleSpec(
            calendars=[ScheduleCalendarSpec(hour=[ScheduleRange(definition.hour)], minute=[ScheduleRange(0)])]
        ),
        # Never two runs of a job at once.
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=definition.catchup_window),
    )


async def ensure_schedules(client: Client, settings: Settings) -> dict[str, str]:
    """Create each schedule, or update an existing one to this code's definition; returns what was done per id."""
    done = {}
    for definition in SCHEDULES:
        sid, schedule = definition.id, desired_schedule(definition, settings)
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
