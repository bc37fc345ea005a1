"""Reading a job out of its Temporal history: each step's attempts, times and last failure, the point a retry
resets to, how the run ended, its result and its submitter. Functions over the history's events (protobuf) and a
data converter, so they are tested without a server."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from temporalio.api.enums.v1 import EventType, PendingActivityState
from temporalio.api.failure.v1 import Failure
from temporalio.api.history.v1 import HistoryEvent
from temporalio.converter import DataConverter

from domain.jobs import StepView, is_step
from domain.messages import PipelineResult, StepProgress, SubmissionInput

_E = EventType


def failures_of(events: Iterable[HistoryEvent]) -> list[Failure]:
    """The failures recorded in a history (a step's last one, a workflow task's, the run's), as protos: encrypted
    by the codec until ``deployment.converter.reveal_failures`` gives them their messages back."""
    found = []
    for event in events:
        for field in _FAILURE_FIELDS:
            if event.HasField(field) and getattr(event, field).HasField("failure"):
                found.append(getattr(event, field).failure)
    return found


_FAILURE_FIELDS = (
    "activity_task_failed_event_attributes",
    "activity_task_timed_out_event_attributes",
    "workflow_task_failed_event_attributes",
    "workflow_execution_failed_event_attributes",
)


def _time(event: HistoryEvent) -> dt.datetime:
    return event.event_time.ToDatetime(tzinfo=dt.UTC)


def steps_from_history(
    events: Iterable[HistoryEvent], planned: Sequence[StepProgress] = (), pending: Sequence[Any] = ()
) -> list[StepView]:
    """One view per background step: from the history (scheduled, started, ended), the pipeline's plan (steps
    not scheduled yet), and the server's pending activities (attempt and last failure of a step being retried:
    the history records an activity's start only when its last attempt ends)."""
    by_event: dict[int, StepView] = {}
    views: dict[str, StepView] = {p.name: StepView(name=p.name, status="pending") for p in planned}
    for event in events:
        kind = event.event_type
        if kind == _E.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            attrs = event.activity_task_scheduled_event_attributes
            if not is_step(attrs.activity_id):
                continue
            view = StepView(name=attrs.activity_id, status="pending", started_at=_time(event))
            views[view.name] = by_event[event.event_id] = view
            continue
        ended = _ENDINGS.get(kind)
        if kind == _E.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            attrs = event.activity_task_started_event_attributes
            if (view := by_event.get(attrs.scheduled_event_id)) is not None:
                view.attempts = attrs.attempt
        elif ended is not None:
            status, field = ended
            attrs = getattr(event, field)
            if (view := by_event.get(attrs.scheduled_event_id)) is None:
                continue
            view.status = status  # type: ignore[assignment]
            view.ended_at = _time(event)
            if view.started_at is not None:
                view.duration_seconds = round((view.ended_at - view.started_at).total_seconds(), 3)
            if status == "failed" and attrs.HasField("failure"):
                view.last_failure = attrs.failure.message or None
    for act in pending:
        view = views.get(act.activity_id)
        if view is None or view.status not in ("running", "pending"):
            continue
        view.attempts = max(
            view.attempts,
            act.attempt if act.state == PendingActivityState.PENDING_ACTIVITY_STATE_STARTED else act.attempt - 1,
        )
        if act.state == PendingActivityState.PENDING_ACTIVITY_STATE_STARTED:
            view.status = "running"
        if act.HasField("last_failure") and act.last_failure.message:
            view.last_failure = act.last_failure.message
            view.status = "retrying"
    for p in planned:  # what the workflow itself knows of steps whose end the history shows differently
        view = views[p.name]
        if p.status == "skipped":
            view.status = "skipped"
        if view.last_failure is None and p.last_error:
            view.last_failure = p.last_error
    return list(views.values())


_ENDINGS = {
    _E.EVENT_TYPE_ACTIVITY_TASK_COMPLETED: ("done", "activity_task_completed_event_attributes"),
    _E.EVENT_TYPE_ACTIVITY_TASK_FAILED: ("failed", "activity_task_failed_event_attributes"),
    _E.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT: ("failed", "activity_task_timed_out_event_attributes"),
    _E.EVENT_TYPE_ACTIVITY_TASK_CANCELED: ("cancelled", "activity_task_canceled_event_attributes"),
}


def reset_point(events: Sequence[HistoryEvent]) -> tuple[int, list[str]] | None:
    """Where a retry resets to, and the steps it re-runs: the last completed workflow task before the first
    step that failed for good. Steps that completed before that point replay from the history (their effects
    are not repeated); the failed step and everything after it run again (all idempotent). None when no step
    failed."""
    names: dict[int, str] = {}
    first_failure: int | None = None
    failed: list[str] = []
    for event in events:
        if event.event_type == _E.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            names[event.event_id] = event.activity_task_scheduled_event_attributes.activity_id
        elif event.event_type in (_E.EVENT_TYPE_ACTIVITY_TASK_FAILED, _E.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT):
            attrs = getattr(event, _ENDINGS[event.event_type][1])
            name = names.get(attrs.scheduled_event_id, "")
            if is_step(name):
                failed.append(name)
                first_failure = event.event_id if first_failure is None else first_failure
    if first_failure is None:
        return None
    completed = [
        e.event_id
        for e in events
        if e.event_type == _E.EVENT_TYPE_WORKFLOW_TASK_COMPLETED and e.event_id < first_failure
    ]
    return (completed[-1], failed) if completed else None


def first_workflow_task(events: Sequence[HistoryEvent]) -> int | None:
    return next((e.event_id for e in events if e.event_type == _E.EVENT_TYPE_WORKFLOW_TASK_COMPLETED), None)


# Temporal's execution status name for each event that closes a run.
_CLOSED_BY = {
    _E.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED: "COMPLETED",
    _E.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED: "FAILED",
    _E.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED: "CANCELED",
    _E.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED: "TERMINATED",
    _E.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT: "TIMED_OUT",
}


def closed_as(event: HistoryEvent | None) -> str | None:
    """The execution status name (COMPLETED, FAILED, …) the last event of a history closed the run with; None while
    it runs."""
    return _CLOSED_BY.get(event.event_type) if event is not None else None


def closed_at(event: HistoryEvent) -> dt.datetime:
    return _time(event)


def workflow_failure(event: HistoryEvent) -> str | None:
    """The failure message of a run that failed (its closing event), else None."""
    if event.event_type != _E.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED:
        return None
    return event.workflow_execution_failed_event_attributes.failure.message


async def pipeline_result(event: HistoryEvent, converter: DataConverter) -> PipelineResult | None:
    """The pipeline's result, from the event that completed its run; None for any other event."""
    if event.event_type != _E.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
        return None
    payloads = event.workflow_execution_completed_event_attributes.result.payloads
    [result] = await converter.decode(payloads, [PipelineResult])
    assert isinstance(result, PipelineResult)
    return result


async def submitter(events: Sequence[HistoryEvent], converter: DataConverter) -> str | None:
    """Who submitted it: the ERP user in the workflow's input (the first event)."""
    if not events or events[0].event_type != _E.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
        return None
    payloads = events[0].workflow_execution_started_event_attributes.input.payloads
    if not payloads:
        return None
    [inp] = await converter.decode(payloads[:1], [SubmissionInput])
    return inp.user
