"""A job as users and admins see it, loaded from one run: its history (steps, result, submitter), and while it
runs the pipeline's plan (the ``progress`` query) and the server's pending activities."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client, WorkflowExecution, WorkflowExecutionStatus
from temporalio.service import RPCError

from deployment.converter import reveal_failures
from domain.jobs import JobDetail, derive_status, final_state
from domain.messages import PipelineResult, Progress, StepProgress
from starter.job_history import (
    closed_as,
    closed_at,
    failures_of,
    pipeline_result,
    steps_from_history,
    submitter,
    workflow_failure,
)
from workflows import search_attributes as sa

# How long the running pipeline may take to answer its plan; without a worker the history still shows the steps.
_PROGRESS_TIMEOUT = dt.timedelta(seconds=2)


async def events_of(client: Client, execution: WorkflowExecution) -> list[HistoryEvent]:
    """The run's events, failure messages readable (the history holds them encrypted)."""
    handle = client.get_workflow_handle(execution.id, run_id=execution.run_id)
    events = list((await handle.fetch_history()).events)
    await reveal_failures(client.data_converter, failures_of(events))
    return events


async def load_job(client: Client, execution: WorkflowExecution, *, detail: bool = False) -> JobDetail:
    """Everything a job view needs from one history (plus, while running, the pipeline's plan and the server's
    pending activities). ``detail`` adds the steps and the summary."""
    handle = client.get_workflow_handle(execution.id, run_id=execution.run_id)
    events = await events_of(client, execution)
    running = execution.status == WorkflowExecutionStatus.RUNNING
    planned: list[StepProgress] = []
    verdict_errors: list[str] = []
    pending: Sequence[object] = ()
    submitted_by = await submitter(events, client.data_converter)
    closing = events[-1] if events else None
    result: PipelineResult | None = None
    workflow_error: str | None = None
    if closing is not None:
        result = await pipeline_result(closing, client.data_converter)
        workflow_error = workflow_failure(closing)
    if result is not None:
        planned = result.steps
        verdict_errors = [f"{e.field}: {e.message}" for e in result.verdict.errors]
    elif workflow_error is None and running:
        description = await handle.describe()
        pending = description.raw_description.pending_activities
        await reveal_failures(client.data_converter, [a.last_failure for a in pending if a.HasField("last_failure")])
        try:
            progress = await handle.query("progress", result_type=Progress, rpc_timeout=_PROGRESS_TIMEOUT)
            planned = progress.steps
        except RPCError:
            pass  # no workflow worker answering: the history still shows the scheduled steps
    steps = steps_from_history(events, planned, pending)
    state = execution.typed_search_attributes.get(sa.STATE)
    # Visibility follows the history with a delay: a run that has closed is what its close event says.
    status_name = closed_as(closing)
    if status_name == "COMPLETED" and result is not None:
        state = final_state(result)
    status_name = status_name or (execution.status.name if execution.status else "RUNNING")
    last_error = next((f"{s.name} failed: {s.last_failure}" for s in steps if s.last_failure), None)
    summary = await execution.static_summary() if detail and hasattr(execution, "static_summary") else None
    return JobDetail(
        workflow_id=execution.id,
        run_id=execution.run_id,
        site=execution.typed_search_attributes.get(sa.SITE) or "",
        doctype=execution.typed_search_attributes.get(sa.DOCTYPE) or "",
        name=execution.typed_search_attributes.get(sa.DOCUMENT) or "",
        summary=summary,
        status=derive_status(status_name, state, steps),
        state=state,
        submitted_at=execution.start_time,
        submitted_by=submitted_by,
        closed_at=execution.close_time
        or (closed_at(closing) if closing is not None and status_name != "RUNNING" else None),
        steps_done=sum(1 for s in steps if s.status == "done"),
        steps_total=len(steps),
        last_error=last_error or workflow_error or (verdict_errors[0] if verdict_errors else None),
        steps=steps if detail else [],
        verdict_errors=verdict_errors,
        history_events=len(events),
    )
