"""Async client: what an ERP (or any Python caller) uses to hand duesflow a submitted document.

``DuesflowClient`` and ``BlockingDuesflowClient`` (starter/sync.py) have the same public methods with the same
signatures (``tests/workflows/test_blocking_client.py`` compares them). Results are pydantic models; failures are
duesflow's own exceptions (``domain/errors.py``, exported by ``starter``), never the Temporal SDK's.

Nothing is contacted when the client is made: Temporal is connected by the first call that needs it (submit,
progress, wait, the job views, retry, cancel, run_upkeep, ensure_schedules), so the ledger reads, notifications and
cleanup work while Temporal is down.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
import random
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import timedelta
from typing import Any

import redis
from sqlalchemy import Engine
from temporalio.api.enums.v1 import EventType
from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import (
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.runtime import LogForwardingConfig, LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter
from temporalio.service import RetryConfig, RPCError, RPCStatusCode, ServiceClient

from config.settings import Settings, load_settings, user_key_of
from deployment.connection import connect_temporal
from deployment.converter import reveal_failures
from deployment.schedules import ensure_schedules
from domain.errors import JobCancelled, JobEnded, JobFailed, NotFound, TemporalUnavailable
from domain.history import HistoryRow
from domain.ids import check_site
from domain.jobs import Job, JobDetail, JobStatistics, RetryReport
from domain.messages import PipelineResult, Progress, StepProgress, SubmissionInput
from domain.notifications import Notification, channel
from domain.parsing import parse_submission
from domain.reads import (
    AuditRecord,
    DailyTotal,
    DueCollectionRetry,
    HandedOffInvoice,
    Mandate,
    MemberSummary,
    MemberTotals,
    MethodStatistic,
    ReturnNeedingAttention,
)
from domain.reminders import OverdueLine, ReminderView
from domain.upkeep import Job as UpkeepJob
from domain.upkeep import UpkeepInput, UpkeepReport
from domain.verdicts import DocumentRejected, Verdict
from ledger.cache import ReadCache
from ledger.db import make_engine
from starter.failures import address_of, job_ended, temporal_errors
from starter.jobs import JobService
from starter.reads import LedgerReads, ledger_errors
from starter.reference_data import ImportReport, load_reference_data
from starter.submission_start import VERDICT_UPDATE_ID, submission_start
from workflows.payment_entry import PaymentEntryWorkflow
from workflows.upkeep import UpkeepWorkflow

# Update-With-Start goes through a connection on which the SDK does not retry: when an attempt fails after its start
# half took effect, the SDK's retry repeats the same start request, which the server deduplicates ("StartDeduped")
# and refuses again, for the SDK's whole 10 s budget. submit retries itself instead, each time with a fresh request,
# within the verdict timeout.
_NO_SDK_RETRIES = RetryConfig(max_retries=1)
_RETRYABLE = {
    RPCStatusCode.UNAVAILABLE,
    RPCStatusCode.RESOURCE_EXHAUSTED,
    RPCStatusCode.ABORTED,
    RPCStatusCode.INTERNAL,
    RPCStatusCode.UNKNOWN,
    RPCStatusCode.DATA_LOSS,
    RPCStatusCode.OUT_OF_RANGE,
}
# How long an attempt may overrun its own rpc timeout (the SDK polls an accepted update's outcome without one).
_ATTEMPT_GRACE = 1.0
# progress() of a workflow that ended without a result: how long a worker may take to replay it and answer.
_CLOSED_QUERY_TIMEOUT = timedelta(seconds=5)

SDK_LOGGER = "duesflow.temporal"
logging.getLogger("duesflow").addHandler(logging.NullHandler())

_runtime: Runtime | None = None
_runtime_lock = threading.Lock()


def sdk_runtime() -> Runtime:
    """The Temporal SDK runtime of duesflow's clients (one per process). The SDK's own log lines (e.g. "gRPC call …
    retried 5 times") go to the Python logger ``duesflow.temporal``, where the application's logging configuration
    decides about them; the SDK's default runtime prints them on the process's standard output."""
    global _runtime
    with _runtime_lock:
        if _runtime is None:
            _runtime = Runtime(
                telemetry=TelemetryConfig(
                    logging=LoggingConfig(
                        filter=TelemetryFilter(core_level="WARN", other_level="ERROR"),
                        forwarding=LogForwardingConfig(
                            logger=logging.getLogger(SDK_LOGGER), append_target_to_name=False
                        ),
                    )
                )
            )
        return _runtime


def _consume_start_error(operation: WithStartWorkflowOperation[Any, Any]) -> None:
    """The SDK also fails the operation's handle future when the call fails; nobody awaits it here, so mark its
    exception retrieved, or asyncio logs "Future exception was never retrieved" for every pending verdict.
    (The future is private: the SDK has no public way to discard it.)"""
    future = getattr(operation, "_workflow_handle", None)
    if isinstance(future, asyncio.Future) and future.done() and not future.cancelled():
        future.exception()


def _backoff(attempt: int) -> float:
    """Between submit's own attempts: 25 ms doubling to 0.5 s, jittered."""
    return min(0.025 * 2**attempt, 0.5) * random.uniform(0.5, 1.0)


class DuesflowClient:
    def __init__(self, client: Client | None, settings: Settings, engine: Engine, cache: ReadCache) -> None:
        """``client``: a connected Temporal client, or None to connect (with ``settings``) on first use."""
        self.settings = settings
        self._temporal = client
        self._submitter: Client | None = None
        self._connecting = asyncio.Lock()
        self._engine = engine
        self._cache = cache
        self.reads = LedgerReads(engine, cache)
        # Internal: the job views and notifications (starter/jobs.py); the public methods below delegate to it.
        self.job_api = JobService(self._temporal_client, settings, engine)

    @classmethod
    async def connect(cls, settings: Settings | None = None) -> DuesflowClient:
        """A client for ``settings`` (default: the ``DUESFLOW_*`` environment; ``ConfigError`` names a bad variable).
        Contacts nothing: Temporal on the first call that needs it, PostgreSQL and Redis on the first read."""
        settings = settings or load_settings()
        engine = make_engine(settings.database_url, pool_size=4, pre_ping=True)
        cache = ReadCache(redis.Redis.from_url(settings.redis_url, socket_timeout=0.5, socket_connect_timeout=0.5))
        return cls(None, settings, engine, cache)

    @property
    def temporal(self) -> Client:
        """The underlying temporalio ``Client`` (for operators' scripts and tests), once a call has connected it."""
        if self._temporal is None:
            raise RuntimeError("not connected to Temporal yet: the first call that needs Temporal connects")
        return self._temporal

    async def _temporal_client(self) -> Client:
        """Connect once: concurrent first calls wait for the same connection. ``TemporalUnavailable`` when the
        frontend does not answer (the next call tries again)."""
        if self._temporal is None:
            async with self._connecting:
                if self._temporal is None:
                    self._temporal = await connect_temporal(self.settings, runtime=sdk_runtime())
        return self._temporal

    async def _submission_client(self) -> Client:
        """The same server and namespace on a connection without the SDK's retries (see ``_NO_SDK_RETRIES``)."""
        if self._submitter is None:
            client = await self._temporal_client()
            async with self._connecting:
                if self._submitter is None:
                    config = dataclasses.replace(client.service_client.config, retry_config=_NO_SDK_RETRIES)
                    try:
                        service = await ServiceClient.connect(config)
                    except RuntimeError as exc:
                        raise TemporalUnavailable(address_of(client), "is the server running?") from exc
                    self._submitter = Client(**{**client.config(), "service_client": service})
        return self._submitter

    async def close(self) -> None:
        await asyncio.to_thread(self._engine.dispose)

    async def __aenter__(self) -> DuesflowClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- submissions -------------------------------------------------------------------------------------------

    async def submit(
        self, doc: Mapping[str, Any], *, site: str, user: str, timeout: float | None = None, bulk: bool = False
    ) -> Verdict:
        """Validate and start (or find) the document's workflow; return step 1's verdict.

        A document that breaks the contract is rejected here with field errors; nothing is written and no
        workflow starts. Submitting the same document again returns the same verdict and starts nothing new.
        If no worker answers within ``timeout`` seconds, the verdict is ``pending`` with the workflow id.
        ``bulk=True`` (backfills, imports) runs the document's workflow and steps at BULK priority.
        """
        check_site(site)
        user_key_of(self.settings, user)  # rejects an empty user before anything else
        try:
            parsed = parse_submission(doc, currency=self.settings.currency)
        except DocumentRejected as exc:
            return Verdict(status="rejected", errors=exc.errors)
        start = submission_start(self.settings, parsed, site=site, user=user, bulk=bulk)
        wid = start.workflow_id
        try:
            return await self._start_and_wait(start.workflow, start.input, start.options, timeout)
        except TemporalUnavailable:
            # Temporal did not answer, but the workflow may have started and run step 1 before it went away: the
            # ledger has the verdict then, and the ERP must hear it (it would otherwise fail a submit that duesflow
            # recorded). With nothing in the ledger, nothing was decided: re-submitting later is safe.
            recorded = await asyncio.to_thread(self.reads.recorded_verdict, wid)
            if recorded is None:
                raise
            return recorded

    async def _start_and_wait(
        self, wf: Any, inp: SubmissionInput, start: dict[str, Any], timeout: float | None
    ) -> Verdict:
        """Update-With-Start within the verdict timeout, retried on the server's transient refusals."""
        wid = start["id"]
        client = await self._temporal_client()
        submitter = await self._submission_client()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (timeout if timeout is not None else self.settings.verdict_timeout_seconds)
        attempt = 0
        with temporal_errors(client):
            while (remaining := deadline - loop.time()) > 0:
                operation = WithStartWorkflowOperation(wf.run, inp, **start)
                try:
                    async with asyncio.timeout(remaining + _ATTEMPT_GRACE):
                        return await submitter.execute_update_with_start_workflow(
                            wf.verdict,
                            start_workflow_operation=operation,
                            id=VERDICT_UPDATE_ID,
                            rpc_timeout=timedelta(seconds=remaining),
                        )
                except WorkflowAlreadyStartedError:  # closed: REJECT_DUPLICATE keeps it so
                    return await self._verdict_of_closed(client, wid)
                except (WorkflowUpdateRPCTimeoutOrCancelledError, TimeoutError):
                    break
                except RPCError as exc:
                    if exc.status == RPCStatusCode.DEADLINE_EXCEEDED:
                        break
                    # Identical submissions racing each other ("StartDeduped"), a workflow busy with updates, a
                    # server blip: try again with a fresh request; it attaches to the workflow if it exists.
                    if exc.status not in _RETRYABLE:
                        raise
                    await asyncio.sleep(min(_backoff(attempt), max(0.0, deadline - loop.time())))
                    attempt += 1
                finally:
                    _consume_start_error(operation)
            return await self._pending(client, wf, inp, start)

    async def _pending(self, client: Client, wf: Any, inp: SubmissionInput, start: dict[str, Any]) -> Verdict:
        """No verdict in time. Make sure the workflow exists before saying "pending" (a timeout can also hit
        before the start itself): a plain start attaches to it if it is there, and needs no worker."""
        try:
            await client.start_workflow(wf.run, inp, **start, rpc_timeout=timedelta(seconds=10))
        except WorkflowAlreadyStartedError:
            return await self._verdict_of_closed(client, start["id"])
        return Verdict(status="pending", workflow_id=start["id"])

    async def _verdict_of_closed(self, client: Client, wid: str) -> Verdict:
        """The verdict a closed workflow recorded: its result's, or (cancelled, failed) the verdict update's."""
        handle = client.get_workflow_handle(wid, result_type=PipelineResult)
        try:
            return (await handle.result()).verdict
        except WorkflowFailureError as exc:
            recorded = await _recorded_verdict(client, handle)
            if recorded is None:
                raise job_ended(wid, exc) from exc
            return recorded

    async def progress(self, workflow_id: str) -> Progress:
        """Steps done, pending and failed, with attempts and last error; live retries come from the server."""
        client = await self._temporal_client()
        handle = client.get_workflow_handle(workflow_id, result_type=PipelineResult)
        with temporal_errors(client):
            desc = await _described(handle)
            if desc.status == WorkflowExecutionStatus.COMPLETED:
                result = await handle.result()
                return Progress(workflow_id=workflow_id, verdict=result.verdict, steps=result.steps)
            if desc.status == WorkflowExecutionStatus.RUNNING:
                progress = await handle.query(PaymentEntryWorkflow.progress, result_type=Progress)
                pending = desc.raw_description.pending_activities
                # The server holds each step's last failure encrypted: read it as it was written.
                await reveal_failures(
                    client.data_converter, [a.last_failure for a in pending if a.HasField("last_failure")]
                )
                return _with_live_attempts(progress, pending)
            # Ended without a result (cancelled, terminated, failed, timed out): a worker can still replay it and
            # answer; without one, say how it ended.
            try:
                return await handle.query(
                    PaymentEntryWorkflow.progress, result_type=Progress, rpc_timeout=_CLOSED_QUERY_TIMEOUT
                )
            except (RPCError, WorkflowQueryFailedError) as exc:
                if isinstance(exc, RPCError) and exc.status == RPCStatusCode.UNAVAILABLE:
                    raise
                raise _ended(workflow_id, desc.status) from exc

    async def wait(self, workflow_id: str) -> PipelineResult:
        """Block until the document's background steps have all finished (done or failed). ``JobCancelled`` or
        ``JobFailed`` when the workflow ended without a result."""
        client = await self._temporal_client()
        handle = client.get_workflow_handle(workflow_id, result_type=PipelineResult)
        with temporal_errors(client):
            try:
                return await handle.result()
            except WorkflowFailureError as exc:
                raise job_ended(workflow_id, exc) from exc
            except RPCError as exc:
                if exc.status == RPCStatusCode.NOT_FOUND:
                    raise NotFound(f"no job {workflow_id!r} (it may be older than Temporal's retention)") from exc
                raise

    # -- reference data and reads (the ledger is synchronous: run it off the event loop) ----------------------

    async def load_reference_data(
        self, docs: Sequence[Any], *, site: str, on_progress: Callable[[int, int], None] | None = None
    ) -> ImportReport:
        def load() -> ImportReport:
            with ledger_errors(self._engine):
                return load_reference_data(
                    self._engine,
                    docs,
                    site=site,
                    currency=self.settings.currency,
                    today=dt.date.today(),
                    on_progress=on_progress,
                )

        return await asyncio.to_thread(load)

    async def member_history(self, site: str, member: str) -> list[HistoryRow]:
        return await asyncio.to_thread(self.reads.member_history, site, member)

    async def member_summary(self, site: str, member: str) -> MemberSummary:
        return await asyncio.to_thread(self.reads.member_summary, site, member)

    async def mandate(self, site: str, mandate_id: str) -> Mandate | None:
        return await asyncio.to_thread(self.reads.mandate, site, mandate_id)

    async def daily_totals(self, site: str, date_from: dt.date, date_to: dt.date) -> list[DailyTotal]:
        return await asyncio.to_thread(self.reads.daily_totals, site, date_from, date_to)

    async def member_totals(self, site: str, member: str) -> MemberTotals:
        return await asyncio.to_thread(self.reads.member_totals, site, member)

    async def method_statistics(self, site: str) -> list[MethodStatistic]:
        return await asyncio.to_thread(self.reads.method_statistics, site)

    async def audit_trail(self, site: str, doctype: str, name: str) -> list[AuditRecord]:
        return await asyncio.to_thread(self.reads.audit_trail, site, doctype, name)

    async def reminders(self, site: str, invoice: str) -> ReminderView | None:
        return await asyncio.to_thread(self.reads.reminders, site, invoice)

    async def overdue_report(self, site: str, on_date: dt.date) -> list[OverdueLine]:
        return await asyncio.to_thread(self.reads.overdue_report, site, on_date)

    async def reminder_states(self, site: str) -> dict[str, int]:
        return await asyncio.to_thread(self.reads.reminder_states, site)

    async def handed_off(self, site: str) -> list[HandedOffInvoice]:
        return await asyncio.to_thread(self.reads.handed_off, site)

    async def due_collection_retries(self, site: str, on_date: dt.date) -> list[DueCollectionRetry]:
        return await asyncio.to_thread(self.reads.due_collection_retries, site, on_date)

    async def returns_needing_attention(self, site: str) -> list[ReturnNeedingAttention]:
        return await asyncio.to_thread(self.reads.returns_needing_attention, site)

    # -- upkeep --------------------------------------------------------------------------------------------------

    async def run_upkeep(self, job: UpkeepJob, on_date: dt.date, site: str | None = None) -> UpkeepReport:
        """Run an upkeep job for ``on_date`` now. Its workflow id names job, day and site, so running it twice
        returns the first run's report (a finished run is not repeated)."""
        if site is not None:
            check_site(site)
        wid = f"duesflow-upkeep-{job}-manual-{on_date.isoformat()}" + (f"-{site}" if site else "")
        inp = UpkeepInput(
            job=job,
            on_date=on_date,
            site=site,
            analytics_window_days=self.settings.analytics_window_days,
        )
        client = await self._temporal_client()
        with temporal_errors(client):
            try:
                handle = await client.start_workflow(
                    UpkeepWorkflow.run,
                    inp,
                    id=wid,
                    task_queue=self.settings.task_queue,
                    id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                    id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                )
            except WorkflowAlreadyStartedError:
                handle = client.get_workflow_handle_for(UpkeepWorkflow.run, wid)
            try:
                return await handle.result()
            except WorkflowFailureError as exc:
                raise job_ended(wid, exc) from exc

    async def ensure_schedules(self) -> dict[str, str]:
        """Create the upkeep schedules or bring them up to date (the worker does this at start)."""
        client = await self._temporal_client()
        with temporal_errors(client):
            return await ensure_schedules(client, self.settings)

    # -- jobs and notifications (starter/jobs.py) -------------------------------------------------------------

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
        return await self.job_api.jobs(site, user, roles, status=status, doctype=doctype, limit=limit)

    async def job(self, site: str, job: str, user: str, roles: Iterable[str] = ()) -> JobDetail:
        return await self.job_api.job(site, job, user, roles)

    async def job_statistics(self, site: str, user: str, roles: Iterable[str] = ()) -> JobStatistics:
        return await self.job_api.job_statistics(site, user, roles)

    async def retry(self, site: str, job: str, user: str, roles: Iterable[str] = ()) -> RetryReport:
        return await self.job_api.retry(site, job, user, roles)

    async def cancel(self, site: str, job: str, user: str, roles: Iterable[str] = ()) -> Job:
        return await self.job_api.cancel(site, job, user, roles)

    async def cleanup(self, site: str, user: str, roles: Iterable[str] = (), *, days: int = 7) -> dict[str, int]:
        return await self.job_api.cleanup(site, user, roles, days=days)

    async def notifications(
        self, site: str, user: str, *, unread_only: bool = True, limit: int = 50
    ) -> list[Notification]:
        return await self.job_api.notifications(site, user, unread_only=unread_only, limit=limit)

    async def unread_count(self, site: str, user: str) -> int:
        return await self.job_api.unread_count(site, user)

    async def mark_notifications_read(self, site: str, user: str, ids: Sequence[int] | None = None) -> int:
        return await self.job_api.mark_notifications_read(site, user, ids)

    async def notification_channel(self, site: str, user: str) -> str:
        """The Redis pub/sub channel on which ``user``'s notifications on ``site`` are published live (JSON of a
        ``Notification``); subscribe to it, and read ``notifications`` on (re)connect for what was missed."""
        return channel(
            self.settings.deployment, self._cache.database, check_site(site), user_key_of(self.settings, user)
        )


def _ended(workflow_id: str, status: WorkflowExecutionStatus | None) -> JobEnded:
    name = status.name.lower().replace("_", " ") if status else "ended"
    if status in (WorkflowExecutionStatus.CANCELED, WorkflowExecutionStatus.TERMINATED):
        return JobCancelled(workflow_id, name)
    return JobFailed(workflow_id, name)


async def _described(handle: WorkflowHandle[Any, Any]) -> Any:
    try:
        return await handle.describe()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise NotFound(f"no job {handle.id!r} (it may be older than Temporal's retention)") from exc
        raise


async def _recorded_verdict(client: Client, handle: WorkflowHandle[Any, Any]) -> Verdict | None:
    """The verdict update's outcome in the workflow's history (a cancelled or failed workflow has no result)."""
    async for event in handle.fetch_history_events():
        if event.event_type != EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED:
            continue
        outcome = event.workflow_execution_update_completed_event_attributes.outcome
        if outcome.HasField("success"):
            [verdict] = await client.data_converter.decode(outcome.success.payloads, [Verdict])
            return verdict
    return None


def _with_live_attempts(progress: Progress, pending: Sequence[Any]) -> Progress:
    """The workflow learns attempts when a step ends; the server knows the attempt and last failure of a
    running one. Background steps use their step name as activity id, which joins the two."""
    live = {act.activity_id: act for act in pending}
    steps: list[StepProgress] = []
    for step in progress.steps:
        act = live.get(step.name)
        if act is not None:
            last = act.last_failure.message if act.HasField("last_failure") else step.last_error
            step = step.model_copy(update={"attempts": act.attempt, "last_error": last or None})
        steps.append(step)
    return progress.model_copy(update={"steps": steps})
