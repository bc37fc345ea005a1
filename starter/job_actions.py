"""The admin's actions on jobs (docs/business-rules.md §8), each with its audit record: retry a failed submission
from its failed step, cancel a running one, clean up old notifications. Who may act is checked by the job API
(starter/jobs.py) before any of these runs."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

from sqlalchemy import Engine
from temporalio.api.common.v1 import WorkflowExecution as ExecutionRef
from temporalio.api.workflowservice.v1 import ResetWorkflowExecutionRequest
from temporalio.client import Client, WorkflowExecution, WorkflowExecutionStatus

from domain import audit_keys
from domain.jobs import Job, RetryReport, check_days
from domain.users import Caller
from ledger import audit, notifications
from starter.job_history import first_workflow_task, reset_point
from starter.job_views import events_of, load_job
from starter.reads import ledger_errors


async def retry(
    client: Client, engine: Engine, caller: Caller, user_key: str, site: str, execution: WorkflowExecution
) -> RetryReport:
    """Re-run a failed submission from its failed step: a reset of its workflow to the last workflow task
    before the step failed. Steps that completed before stay completed (they replay from the history); the
    failed step and what ran after it run again, which their idempotency makes safe. ``user_key`` is the caller's
    pseudonym, the only trace of them the history gets."""
    found = await load_job(client, execution)
    if found.status != "Failed":
        raise ValueError(f"job {execution.id} is {found.status}: only failed jobs can be retried")
    if found.state == "rejected":
        raise ValueError(
            f"job {execution.id} was rejected by validation: correct the document in the ERP and submit the "
            "amended document (a retry would reach the same verdict)"
        )
    events = await events_of(client, execution)
    point = reset_point(events)
    steps = point[1] if point else ["all steps"]
    event_id = point[0] if point else first_workflow_task(events)
    if event_id is None:
        raise ValueError(f"job {execution.id} has no completed workflow task to reset to")
    response = await client.workflow_service.reset_workflow_execution(
        ResetWorkflowExecutionRequest(
            namespace=client.namespace,
            workflow_execution=ExecutionRef(workflow_id=execution.id, run_id=execution.run_id),
            # The reason is visible in the history: the caller's pseudonym, not their address.
            reason=f"duesflow retry by {user_key}",
            workflow_task_finish_event_id=event_id,
            request_id=str(uuid.uuid4()),
        )
    )
    await _audit(engine, caller, site, found, "retry_requested", execution.run_id, {"steps": steps})
    return RetryReport(
        workflow_id=execution.id, failed_run_id=execution.run_id, new_run_id=response.run_id, steps=steps
    )


async def cancel(client: Client, engine: Engine, caller: Caller, site: str, execution: WorkflowExecution) -> Job:
    """Cancel a running submission: its pending steps stop (a step already running finishes its own
    transaction), the workflow audits what was done and stopped, and the submitter is notified."""
    found = await load_job(client, execution)
    if execution.status != WorkflowExecutionStatus.RUNNING:
        raise ValueError(f"job {execution.id} is {found.status}: only queued or running jobs can be cancelled")
    await client.get_workflow_handle(execution.id, run_id=execution.run_id).cancel()
    await _audit(engine, caller, site, found, "cancel_requested", execution.run_id, {})
    return found


def cleanup(engine: Engine, caller: Caller, site: str, days: int) -> dict[str, int]:
    """Remove duesflow's own records older than ``days`` (1–365) that Temporal's namespace retention does
    not cover: the users' notifications; audited. (Synchronous: the job API runs it off the event loop.)"""
    cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(days=check_days(days))
    with ledger_errors(engine), engine.begin() as conn:
        removed = notifications.delete_older_than(conn, site, cutoff)
        audit.append(
            conn,
            audit.AuditEntry(
                actor=caller.user,
                site=site,
                doctype="duesflow",
                name="cleanup",
                event="cleanup",
                outcome="done",
                details={"days": days, "notifications": removed},
                dedupe_key=audit_keys.cleanup(site, str(uuid.uuid4())),
            ),
        )
    return {"notifications": removed}


async def _audit(
    engine: Engine, caller: Caller, site: str, job: Job, event: str, run_id: str, details: dict[str, object]
) -> None:
    """The request, audited as a warning: what an admin did to someone's submission."""

    def work() -> None:
        with ledger_errors(engine), engine.begin() as conn:
            audit.append(
                conn,
                audit.AuditEntry(
                    actor=caller.user,
                    site=site,
                    doctype=job.doctype,
                    name=job.name,
                    event=event,
                    severity="warning",
                    outcome="requested",
                    details=details,
                    workflow_id=job.workflow_id,
                    run_id=run_id,
                    dedupe_key=audit_keys.run_event(job.workflow_id, run_id, event),
                ),
            )

    await asyncio.to_thread(work)
