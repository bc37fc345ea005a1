"""The job API (docs/business-rules.md §8): what a user and an admin see of submissions, read from Temporal's
visibility and history (so it cannot drift from what really runs), and the admin's retry, cancel and cleanup.

Every call names the caller (ERP user and roles): a user sees only their own jobs; holders of an admin role from
settings see every job of the site and may retry, cancel and clean up. Refusals raise ``NotAllowed``; unknown jobs
``NotFound`` (a ``LookupError``); bad arguments ``ValueError``; a database that does not answer ``LedgerUnavailable``;
Temporal that does not answer ``TemporalUnavailable`` — each with a message that says what to change.

Only the job views, retry and cancel talk to Temporal: the service gets a way to connect and uses it on their first
call, so notifications and cleanup work while Temporal is down.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import re
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Concatenate, ParamSpec, TypeVar

from sqlalchemy import Connection, Engine
from temporalio.api.common.v1 import WorkflowExecution as ExecutionRef
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.api.workflowservice.v1 import ResetWorkflowExecutionRequest
from temporalio.client import Client, WorkflowExecution, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from config.settings import Settings, user_key_of
from domain import audit_keys
from domain.errors import NotFound
from domain.ids import check_site
from domain.jobs import (
    Job,
    JobDetail,
    JobStatistics,
    JobStatus,
    RetryReport,
    StepView,
    check_days,
    check_limit,
    check_status,
    derive_status,
    top_errors,
)
from domain.messages import PipelineResult, Progress, StepProgress, SubmissionInput
from domain.notifications import Notification
from domain.users import Caller, NotAllowed
from ledger import audit, notifications
from starter.failures import temporal_errors
from starter.job_history import first_workflow_task, reset_point, steps_from_history
from starter.reads import ledger_errors
from workflows import search_attributes as sa

P = ParamSpec("P")
R = TypeVar("R")

PIPELINES = ("PaymentEntryWorkflow", "SalesInvoiceWorkflow")
DOCTYPES = ("Payment Entry", "Sales Invoice")
MAX_INSPECTED = 200  # running jobs whose history statistics reads
MAX_FAILED = 1000  # failed runs statistics checks for having been retried
_PIPELINE_LIST = f"({', '.join(repr(t) for t in PIPELINES)})"
# ERPNext names (ACC-PAY-2025-00201, ACC-SINV-RET-2025-00003): nothing that could break out of a query string.
DOCUMENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._/-]{0,139}$")

# Visibility clauses for each status a user filters by (Queued/Running/Retrying are told apart after loading).
_STATUS_CLAUSE: dict[JobStatus, str] = {
    "Queued": "ExecutionStatus = 'Running'",
    "Running": "ExecutionStatus = 'Running'",
    "Retrying": "ExecutionStatus = 'Running'",
    "Completed": "ExecutionStatus = 'Completed' AND DuesflowState IN ('completed', 'accepted')",
    "Failed": "(ExecutionStatus IN ('Failed', 'TimedOut') OR (ExecutionStatus = 'Completed' "
    "AND DuesflowState IN ('completed_with_failures', 'rejected')))",
    "Cancelled": "ExecutionStatus IN ('Canceled', 'Terminated')",
}


_CLOSED_BY = {
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED: "COMPLETED",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED: "FAILED",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED: "CANCELED",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED: "TERMINATED",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT: "TIMED_OUT",
}


def _final_state(result: PipelineResult) -> str:
    """The DuesflowState the pipeline set last (workflows/pipeline.py finish), from its result."""
    if not result.verdict.accepted:
        return result.verdict.status
    if any(s.status == "failed" for s in result.steps):
        return "completed_with_failures"
    return "completed"


def _may_be_retried(execution: WorkflowExecution) -> bool:
    state = execution.typed_search_attributes.get(sa.STATE)
    return execution.status != WorkflowExecutionStatus.COMPLETED or state == "completed_with_failures"


def _uses_temporal(
    method: Callable[Concatenate[JobService, P], Awaitable[R]],
) -> Callable[Concatenate[JobService, P], Awaitable[R]]:
    """Connect on first use, and report a frontend that stops answering as ``TemporalUnavailable``."""

    @functools.wraps(method)
    async def call(self: JobService, *args: P.args, **kwargs: P.kwargs) -> R:
        client = await self._temporal()
        with temporal_errors(client):
            return await method(self, *args, **kwargs)

    return call


class JobService:
    def __init__(self, temporal: Client | Callable[[], Awaitable[Client]], settings: Settings, engine: Engine) -> None:
        """``temporal`` is a connected client, or an async callable that returns one (connecting on first use)."""
        self._connect = temporal
        self._settings = settings
        self._engine = engine

    async def _temporal(self) -> Client:
        if not isinstance(self._connect, Client):
            self._connect = await self._connect()
        return self._connect

    @property
    def _client(self) -> Client:
        """The connected client, inside a method decorated with ``_uses_temporal``."""
        assert isinstance(self._connect, Client), "connect first (decorate the method with _uses_temporal)"
        return self._connect

    # -- reads ----------------------------------------------------------------------------------------------------

    @_uses_temporal
    async def jobs(
        self,
        site: str,
        user: str,
        roles: Iterable[str] = (),
        *,
        status: str | None = None,
        doctype: str | None = None,
        limit: int = 50,
    ) -> list[Job]:
        """The caller's jobs (an admin's: everyone's) on ``site``, newest first."""
        caller = self._caller(site, user, roles)
        wanted = check_status(status)
        query = self._scope(site, caller, doctype) + (f" AND {_STATUS_CLAUSE[wanted]}" if wanted else "")
        executions = [e async for e in self._client.list_workflows(query, limit=check_limit(limit))]
        replaced = await self._replaced(executions)
        loaded = await asyncio.gather(*(self._load(e) for e in executions if e.run_id not in replaced))
        found = [j for j in loaded if wanted is None or j.status == wanted]
        return sorted(found, key=lambda j: j.submitted_at, reverse=True)

    @_uses_temporal
    async def job(self, site: str, job: str, user: str, roles: Iterable[str] = ()) -> JobDetail:
        """One job with each step's attempts, times and last failure."""
        caller = self._caller(site, user, roles)
        execution = await self._execution(site, job)
        self._check_owner(caller, execution, "see")
        return await self._load(execution, detail=True)

    @_uses_temporal
    async def job_statistics(self, site: str, user: str, roles: Iterable[str] = ()) -> JobStatistics:
        """Counts by status, success rate and the last 24 hours from visibility counts; the most common errors
        from the newest 100 failed jobs."""
        caller = self._caller(site, user, roles)
        scope = self._scope(site, caller, None)
        day_ago = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=24)).replace(microsecond=0)
        since = f"StartTime > '{day_ago.isoformat().replace('+00:00', 'Z')}'"
        # Closed runs are counted first: a run listed as running below was running then too, so no job is counted
        # twice while visibility catches up with runs that close meanwhile.
        counts = {s: 0 for s in _STATUS_CLAUSE}
        for closed in ("Completed", "Failed", "Cancelled"):
            counts[closed] = await self._count(f"{scope} AND {_STATUS_CLAUSE[closed]}")
        # Queued, Running and Retrying differ only in the history: inspect the newest running jobs; with a long
        # backlog (background paused) the older ones count as Queued, which is what they are then.
        running_total = await self._count(f"{scope} AND ExecutionStatus = 'Running'")
        running = [
            e
            async for e in self._client.list_workflows(f"{scope} AND ExecutionStatus = 'Running'", limit=MAX_INSPECTED)
        ]
        live = await asyncio.gather(*(self._load(e) for e in running))
        for job in live:
            counts[job.status] += 1  # from the history: a run that closed since the listing counts as what it is
        counts["Queued"] += max(0, running_total - len(live))
        # A job is its workflow id, and its newest run decides. A retried job's failed run stays in visibility
        # beside its new run (only failed runs are retried): it is not counted, here nor in the last 24 hours.
        failed = [
            e async for e in self._client.list_workflows(f"{scope} AND {_STATUS_CLAUSE['Failed']}", limit=MAX_FAILED)
        ]
        replaced = await self._replaced(failed)
        counts["Failed"] -= len(replaced)
        replaced_recently = sum(1 for e in failed if e.run_id in replaced and e.start_time > day_ago)
        current = [e for e in failed if e.run_id not in replaced][:100]
        failed_jobs = await asyncio.gather(*(self._load(e) for e in current))
        ended = counts["Completed"] + counts["Failed"]
        return JobStatistics(
            total=sum(counts.values()),
            by_status=counts,
            success_rate=round(counts["Completed"] / ended, 4) if ended else None,
            last_24h={
                "submitted": await self._count(f"{scope} AND {since}") - replaced_recently,
                "completed": await self._count(f"{scope} AND {since} AND {_STATUS_CLAUSE['Completed']}"),
                "failed": await self._count(f"{scope} AND {since} AND {_STATUS_CLAUSE['Failed']}") - replaced_recently,
            },
            top_errors=top_errors(failed_jobs),
        )

    # -- admin actions ----------------------------------------------------------------------------------------------

    @_uses_temporal
    async def retry(self, site: str, job: str, user: str, roles: Iterable[str] = ()) -> RetryReport:
        """Re-run a failed submission from its failed step: a reset of its workflow to the last workflow task
        before the step failed. Steps that completed before stay completed (they replay from the history); the
        failed step and what ran after it run again, which their idempotency makes safe."""
        caller = self._admin(site, user, roles, "retry")
        execution = await self._execution(site, job)
        found = await self._load(execution)
        if found.status != "Failed":
            raise ValueError(f"job {execution.id} is {found.status}: only failed jobs can be retried")
        if found.state == "rejected":
            raise ValueError(
                f"job {execution.id} was rejected by validation: correct the document in the ERP and submit the "
                "amended document (a retry would reach the same verdict)"
            )
        events = await self._events(execution)
        point = reset_point(events)
        steps = point[1] if point else ["all steps"]
        event_id = point[0] if point else first_workflow_task(events)
        if event_id is None:
            raise ValueError(f"job {execution.id} has no completed workflow task to reset to")
        response = await self._client.workflow_service.reset_workflow_execution(
            ResetWorkflowExecutionRequest(
                namespace=self._client.namespace,
                workflow_execution=ExecutionRef(workflow_id=execution.id, run_id=execution.run_id),
                # The reason is visible in the history: the caller's pseudonym, not their address.
                reason=f"duesflow retry by {user_key_of(self._settings, caller.user)}",
                workflow_task_finish_event_id=event_id,
                request_id=str(uuid.uuid4()),
            )
        )
        await self._audit(caller, site, found, "retry_requested", execution.run_id, {"steps": steps})
        return RetryReport(
            workflow_id=execution.id, failed_run_id=execution.run_id, new_run_id=response.run_id, steps=steps
        )

    @_uses_temporal
    async def cancel(self, site: str, job: str, user: str, roles: Iterable[str] = ()) -> Job:
        """Cancel a running submission: its pending steps stop (a step already running finishes its own
        transaction), the workflow audits what was done and stopped, and the submitter is notified."""
        caller = self._admin(site, user, roles, "cancel")
        execution = await self._execution(site, job)
        found = await self._load(execution)
        if execution.status != WorkflowExecutionStatus.RUNNING:
            raise ValueError(f"job {execution.id} is {found.status}: only queued or running jobs can be cancelled")
        await self._client.get_workflow_handle(execution.id, run_id=execution.run_id).cancel()
        await self._audit(caller, site, found, "cancel_requested", execution.run_id, {})
        return found

    async def cleanup(self, site: str, user: str, roles: Iterable[str] = (), *, days: int = 7) -> dict[str, int]:
        """Remove duesflow's own records older than ``days`` (1–365) that Temporal's namespace retention does
        not cover: the users' notifications. (Workflow histories follow the namespace's retention; the audit
        trail keeps its own retention by severity, see `duesflow upkeep audit-retention`.)"""
        caller = self._admin(site, user, roles, "clean up")
        cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(days=check_days(days))

        def work() -> dict[str, int]:
            with ledger_errors(self._engine), self._engine.begin() as conn:
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

        return await asyncio.to_thread(work)

    # -- notifications ---------------------------------------------------------------------------------------------

    async def notifications(
        self, site: str, user: str, *, unread_only: bool = True, limit: int = 50
    ) -> list[Notification]:
        """The user's notifications, newest first (at most ``limit``, 1–100)."""
        caller = self._caller(site, user, ())
        return await asyncio.to_thread(
            self._in_tx, notifications.of_user, site, caller.user, unread_only=unread_only, limit=check_limit(limit)
        )

    async def unread_count(self, site: str, user: str) -> int:
        """For a badge in the ERP's UI."""
        caller = self._caller(site, user, ())
        return await asyncio.to_thread(self._in_tx, notifications.unread_count, site, caller.user)

    async def mark_notifications_read(self, site: str, user: str, ids: Sequence[int] | None = None) -> int:
        """Mark the user's notifications read (all of them when ``ids`` is None); returns how many changed."""
        caller = self._caller(site, user, ())
        return await asyncio.to_thread(self._in_tx, notifications.mark_read, site, caller.user, ids)

    # -- helpers ---------------------------------------------------------------------------------------------------

    # The name the async client's job API had before both clients shared one surface.
    mark_read = mark_notifications_read

    def _in_tx(self, fn: Callable[Concatenate[Connection, P], R], *args: P.args, **kwargs: P.kwargs) -> R:
        with ledger_errors(self._engine), self._engine.begin() as conn:
            return fn(conn, *args, **kwargs)

    def _caller(self, site: str, user: str, roles: Iterable[str]) -> Caller:
        check_site(site)
        return Caller.of(user, roles)

    def _admin(self, site: str, user: str, roles: Iterable[str], action: str) -> Caller:
        caller = self._caller(site, user, roles)
        if not caller.is_admin(self._settings.admin_roles):
            raise NotAllowed(
                f"only holders of an admin role ({', '.join(self._settings.admin_roles)}) may {action} jobs; "
                f"{caller.user} has {', '.join(sorted(caller.roles)) or 'no roles'}"
            )
        return caller

    def _scope(self, site: str, caller: Caller, doctype: str | None) -> str:
        query = f"DuesflowSite = '{site}' AND WorkflowType IN {_PIPELINE_LIST}"
        if doctype is not None:
            if doctype not in DOCTYPES:
                raise ValueError(f"doctype must be one of {', '.join(DOCTYPES)}, got {doctype!r}")
            query += f" AND DuesflowDoctype = '{doctype}'"
        if not caller.is_admin(self._settings.admin_roles):
            query += f" AND DuesflowUser = '{user_key_of(self._settings, caller.user)}'"
        return query

    def _check_owner(self, caller: Caller, execution: WorkflowExecution, action: str) -> None:
        if caller.is_admin(self._settings.admin_roles):
            return
        if execution.typed_search_attributes.get(sa.USER) != user_key_of(self._settings, caller.user):
            raise NotAllowed(
                f"{caller.user} may not {action} job {execution.id}: it was submitted by another user "
                f"(admins: {', '.join(self._settings.admin_roles)})"
            )

    async def _execution(self, site: str, workflow_id: str) -> WorkflowExecution:
        """``workflow_id`` may also be a document name (what an operator knows): it is looked up on the site."""
        if ":" not in workflow_id:  # workflow ids are "<site>:<doctype>:<name>" (domain/ids.py); a name is looked up
            workflow_id = await self._by_document(site, workflow_id)
        try:
            execution = await self._client.get_workflow_handle(workflow_id).describe()
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                raise NotFound(f"no job {workflow_id!r} (it may be older than Temporal's retention)") from None
            raise
        if execution.typed_search_attributes.get(sa.SITE) != site or execution.workflow_type not in PIPELINES:
            raise NotFound(f"no job {workflow_id!r} on site {site}")
        return execution

    async def _by_document(self, site: str, name: str) -> str:
        if not DOCUMENT_NAME.fullmatch(name):
            raise ValueError(f"{name!r} is neither a workflow id of site {site} nor a document name")
        query = f"DuesflowSite = '{site}' AND DuesflowDocument = '{name}' AND WorkflowType IN {_PIPELINE_LIST}"
        ids = sorted({e.id async for e in self._client.list_workflows(query, limit=10)})
        if not ids:
            raise NotFound(f"no job for document {name!r} on site {site}")
        if len(ids) > 1:
            raise NotFound(f"document {name!r} has several jobs, name one: {', '.join(ids)}")
        return ids[0]

    async def _replaced(self, executions: Sequence[WorkflowExecution]) -> set[str]:
        """Run ids of closed runs that a retry (reset) replaced by a newer run of the same workflow. Only failed
        runs are ever retried, so only those are checked."""
        closed_failed = [e for e in executions if e.status != WorkflowExecutionStatus.RUNNING and _may_be_retried(e)]
        current = await asyncio.gather(
            *(self._client.get_workflow_handle(wid).describe() for wid in {e.id for e in closed_failed})
        )
        current_run = {d.id: d.run_id for d in current}
        return {e.run_id for e in closed_failed if current_run.get(e.id) not in (None, e.run_id)}

    async def _count(self, query: str) -> int:
        return (await self._client.count_workflows(query)).count

    async def _events(self, execution: WorkflowExecution) -> list[HistoryEvent]:
        handle = self._client.get_workflow_handle(execution.id, run_id=execution.run_id)
        return list((await handle.fetch_history()).events)

    async def _load(self, execution: WorkflowExecution, *, detail: bool = False) -> JobDetail:
        """Everything a job view needs from one history (plus, while running, the pipeline's plan and the
        server's pending activities)."""
        handle = self._client.get_workflow_handle(execution.id, run_id=execution.run_id)
        events = await self._events(execution)
        running = execution.status == WorkflowExecutionStatus.RUNNING
        planned: list[StepProgress] = []
        verdict_errors: list[str] = []
        workflow_error: str | None = None
        result: PipelineResult | None = None
        pending: Sequence[object] = ()
        submitted_by = await self._submitter(events)
        closing = events[-1] if events else None
        if closing is not None and closing.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
            payloads = closing.workflow_execution_completed_event_attributes.result.payloads
            [result] = await self._client.data_converter.decode(payloads, [PipelineResult])
            assert isinstance(result, PipelineResult)
            planned = result.steps
            verdict_errors = [f"{e.field}: {e.message}" for e in result.verdict.errors]
        elif closing is not None and closing.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED:
            workflow_error = closing.workflow_execution_failed_event_attributes.failure.message
        elif running:
            description = await handle.describe()
            pending = description.raw_description.pending_activities
            try:
                progress = await handle.query("progress", result_type=Progress, rpc_timeout=dt.timedelta(seconds=2))
                planned = progress.steps
            except RPCError:
                pass  # no workflow worker answering: the history still shows the scheduled steps
        steps = steps_from_history(events, planned, pending)
        state = execution.typed_search_attributes.get(sa.STATE)
        # Visibility follows the history with a delay: a run that has closed is what its close event says.
        status_name = _CLOSED_BY.get(closing.event_type) if closing is not None else None
        if status_name == "COMPLETED" and result is not None:
            state = _final_state(result)
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
            or (
                closing.event_time.ToDatetime(tzinfo=dt.UTC)
                if closing is not None and status_name != "RUNNING"
                else None
            ),
            steps_done=sum(1 for s in steps if s.status == "done"),
            steps_total=len(steps),
            last_error=last_error or workflow_error or (verdict_errors[0] if verdict_errors else None),
            steps=steps if detail else [],
            verdict_errors=verdict_errors,
            history_events=len(events),
        )

    async def _submitter(self, events: Sequence[HistoryEvent]) -> str | None:
        """Who submitted it: the ERP user in the workflow's input (the first event)."""
        if not events or events[0].event_type != EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
            return None
        payloads = events[0].workflow_execution_started_event_attributes.input.payloads
        if not payloads:
            return None
        [inp] = await self._client.data_converter.decode(payloads[:1], [SubmissionInput])
        return inp.user

    async def _audit(
        self, caller: Caller, site: str, job: Job, event: str, run_id: str, details: dict[str, object]
    ) -> None:
        def work() -> None:
            with ledger_errors(self._engine), self._engine.begin() as conn:
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


__all__ = ["JobService", "NotAllowed", "RetryReport", "StepView"]
