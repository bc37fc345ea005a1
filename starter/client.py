"""Async client: what an ERP (or any Python caller) uses to hand duesflow a submitted document."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from typing import Any

import redis
from sqlalchemy import Engine
from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowExecutionStatus,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import (
    Priority,
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from domain.contracts import PaymentEntry, SalesInvoice
from domain.history import HistoryRow
from domain.ids import check_site, workflow_id
from domain.messages import PipelineResult, Progress, StepProgress, SubmissionInput
from domain.parsing import parse_submission
from domain.priorities import Level
from domain.reminders import OverdueLine, ReminderView
from domain.settings import Settings, load_settings, reminder_policy, user_key_of
from domain.upkeep import Job, UpkeepInput, UpkeepReport
from domain.verdicts import DocumentRejected, Verdict
from ledger.cache import ReadCache
from ledger.db import make_engine
from starter.jobs import JobService
from starter.reads import LedgerReads
from starter.reference_data import ImportReport, load_reference_data
from starter.schedules import ensure_schedules
from workflows import search_attributes as sa
from workflows.payment_entry import PaymentEntryWorkflow
from workflows.sales_invoice import SalesInvoiceWorkflow
from workflows.upkeep import UpkeepWorkflow

WORKFLOW_FOR = {"Payment Entry": PaymentEntryWorkflow, "Sales Invoice": SalesInvoiceWorkflow}


def _consume_start_error(operation: WithStartWorkflowOperation[Any, Any]) -> None:
    """The SDK also fails the operation's handle future when the call fails; nobody awaits it here, so mark its
    exception retrieved, or asyncio logs "Future exception was never retrieved" for every pending verdict.
    (The future is private: the SDK has no public way to discard it.)"""
    future = getattr(operation, "_workflow_handle", None)
    if isinstance(future, asyncio.Future) and future.done() and not future.cancelled():
        future.exception()


def summary_of(doc: PaymentEntry | SalesInvoice) -> str:
    """Web UI summary: doctype, name, amount and mode. Never the party (a person's name)."""
    prefix = "Cancel " if doc.docstatus == 2 else ""
    if isinstance(doc, PaymentEntry):
        mode = f" · {doc.mode_of_payment}" if doc.mode_of_payment else ""
        return f"{prefix}Payment Entry {doc.name} · €{doc.paid_amount}{mode}"
    kind = "Credit Note" if doc.is_return else "Sales Invoice"
    return f"{prefix}{kind} {doc.name} · €{doc.grand_total}" + (f" · due {doc.due_date}" if doc.due_date else "")


class DuesflowClient:
    def __init__(self, client: Client, settings: Settings, engine: Engine, cache: ReadCache) -> None:
        self.temporal = client
        self.settings = settings
        self._engine = engine
        self.reads = LedgerReads(engine, cache)
        # Users' and admins' view of submissions: jobs, job, job_statistics, retry, cancel, cleanup, notifications.
        self.job_api = JobService(client, settings, engine)

    @classmethod
    async def connect(cls, settings: Settings | None = None) -> DuesflowClient:
        settings = settings or load_settings()
        client = await Client.connect(
            settings.temporal_address, namespace=settings.temporal_namespace, data_converter=pydantic_data_converter
        )
        engine = make_engine(settings.database_url, pool_size=4, pre_ping=True)
        cache = ReadCache(redis.Redis.from_url(settings.redis_url, socket_timeout=0.5, socket_connect_timeout=0.5))
        return cls(client, settings, engine, cache)

    async def close(self) -> None:
        await asyncio.to_thread(self._engine.dispose)

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
        key = user_key_of(self.settings, user)  # also rejects an empty user
        try:
            parsed = parse_submission(doc, currency=self.settings.currency)
        except DocumentRejected as exc:
            return Verdict(status="rejected", errors=exc.errors)
        wid = workflow_id(site, parsed.doctype, parsed.name, cancellation=parsed.docstatus == 2)
        wf = WORKFLOW_FOR[parsed.doctype]
        inp = SubmissionInput(
            site=site,
            user=user,
            document=parsed,
            background_task_queue=self.settings.background_task_queue,
            retry_interval_scale=self.settings.retry_interval_scale,
            reminder_policy=reminder_policy(self.settings),
            user_key=key,
            bulk=bulk,
        )

        start: dict[str, Any] = {
            "id": wid,
            "task_queue": self.settings.workflow_task_queue,
            "id_conflict_policy": WorkflowIDConflictPolicy.USE_EXISTING,
            # A finished document stays finished: re-submitting must not run its effects again.
            "id_reuse_policy": WorkflowIDReusePolicy.REJECT_DUPLICATE,
            "search_attributes": TypedSearchAttributes(
                [
                    SearchAttributePair(sa.SITE, site),
                    SearchAttributePair(sa.DOCTYPE, parsed.doctype),
                    SearchAttributePair(sa.DOCUMENT, parsed.name),
                    SearchAttributePair(sa.STATE, "submitted"),
                    SearchAttributePair(sa.USER, key),
                ]
            ),
            "static_summary": summary_of(parsed),
        }
        if bulk:
            # Behind live submissions on the workflow queue too: step 1 of a treasurer's submission never waits
            # for a backfill's.
            start["priority"] = Priority(priority_key=int(Level.BULK))
        wait = timedelta(seconds=timeout if timeout is not None else self.settings.verdict_timeout_seconds)
        for attempt in range(5):
            operation = WithStartWorkflowOperation(wf.run, inp, **start)
            try:
                return await self.temporal.execute_update_with_start_workflow(
                    wf.verdict, start_workflow_operation=operation, rpc_timeout=wait
                )
            except WorkflowAlreadyStartedError:
                return await self._verdict_of_closed(wid)
            except WorkflowUpdateRPCTimeoutOrCancelledError:
                return await self._pending(wf, inp, start)
            except RPCError as exc:
                if exc.status == RPCStatusCode.DEADLINE_EXCEEDED:
                    return await self._pending(wf, inp, start)
                # Identical submissions racing each other: the server starts one and asks the others to retry,
                # which then attach to it (USE_EXISTING).
                if "StartDeduped" not in exc.message or attempt == 4:
                    raise
                await asyncio.sleep(0.05 * (attempt + 1))
            finally:
                _consume_start_error(operation)
        raise AssertionError("unreachable")

    async def _pending(self, wf: Any, inp: SubmissionInput, start: dict[str, Any]) -> Verdict:
        """No verdict in time. Make sure the workflow exists before saying "pending" (a timeout can also hit
        before the start itself): a plain start attaches to it if it is there, and needs no worker."""
        try:
            await self.temporal.start_workflow(wf.run, inp, **start, rpc_timeout=timedelta(seconds=10))
        except WorkflowAlreadyStartedError:
            return await self._verdict_of_closed(start["id"])
        return Verdict(status="pending", workflow_id=start["id"])

    async def _verdict_of_closed(self, wid: str) -> Verdict:
        result = await self.temporal.get_workflow_handle(wid, result_type=PipelineResult).result()
        return result.verdict

    async def progress(self, workflow_id_: str) -> Progress:
        """Steps done, pending and failed, with attempts and last error; live retries come from the server."""
        handle = self.temporal.get_workflow_handle(workflow_id_, result_type=PipelineResult)
        desc = await handle.describe()
        if desc.status == WorkflowExecutionStatus.COMPLETED:
            result = await handle.result()
            return Progress(workflow_id=workflow_id_, verdict=result.verdict, steps=result.steps)
        progress = await handle.query(PaymentEntryWorkflow.progress, result_type=Progress)
        return _with_live_attempts(progress, desc.raw_description.pending_activities)

    async def wait(self, workflow_id_: str) -> PipelineResult:
        """Block until the document's background steps have all finished (done or failed)."""
        return await self.temporal.get_workflow_handle(workflow_id_, result_type=PipelineResult).result()

    # -- reference data and reads (the ledger is synchronous: run it off the event loop) ----------------------

    async def load_reference_data(
        self, docs: Sequence[Any], *, site: str, on_progress: Callable[[int, int], None] | None = None
    ) -> ImportReport:
        return await asyncio.to_thread(
            load_reference_data,
            self._engine,
            docs,
            site=site,
            currency=self.settings.currency,
            today=dt.date.today(),
            on_progress=on_progress,
        )

    async def member_history(self, site: str, member: str) -> list[HistoryRow]:
        return await asyncio.to_thread(self.reads.member_history, site, member)

    async def member_summary(self, site: str, member: str) -> dict[str, Any]:
        return await asyncio.to_thread(self.reads.member_summary, site, member)

    async def mandate(self, site: str, mandate_id: str) -> dict[str, Any] | None:
        return await asyncio.to_thread(self.reads.mandate, site, mandate_id)

    async def daily_totals(self, site: str, date_from: dt.date, date_to: dt.date) -> list[dict[str, Any]]:
        return await asyncio.to_thread(self.reads.daily_totals, site, date_from, date_to)

    async def member_totals(self, site: str, member: str) -> dict[str, Any]:
        return await asyncio.to_thread(self.reads.member_totals, site, member)

    async def method_statistics(self, site: str) -> list[dict[str, Any]]:
        return await asyncio.to_thread(self.reads.method_statistics, site)

    async def audit_trail(self, site: str, doctype: str, name: str) -> list[dict[str, Any]]:
        return await asyncio.to_thread(self.reads.audit_trail, site, doctype, name)

    async def reminders(self, site: str, invoice: str) -> ReminderView | None:
        return await asyncio.to_thread(self.reads.reminders, site, invoice)

    async def overdue_report(self, site: str, on_date: dt.date) -> list[OverdueLine]:
        return await asyncio.to_thread(self.reads.overdue_report, site, on_date)

    async def reminder_states(self, site: str) -> dict[str, int]:
        return await asyncio.to_thread(self.reads.reminder_states, site)

    async def handed_off(self, site: str) -> list[dict[str, Any]]:
        return await asyncio.to_thread(self.reads.handed_off, site)

    async def due_collection_retries(self, site: str, on_date: dt.date) -> list[dict[str, Any]]:
        return await asyncio.to_thread(self.reads.due_collection_retries, site, on_date)

    async def returns_needing_attention(self, site: str) -> list[dict[str, Any]]:
        return await asyncio.to_thread(self.reads.returns_needing_attention, site)

    async def run_upkeep(self, job: Job, on_date: dt.date, site: str | None = None) -> UpkeepReport:
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
            background_task_queue=self.settings.background_task_queue,
        )
        try:
            handle = await self.temporal.start_workflow(
                UpkeepWorkflow.run,
                inp,
                id=wid,
                task_queue=self.settings.workflow_task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            )
        except WorkflowAlreadyStartedError:
            handle = self.temporal.get_workflow_handle_for(UpkeepWorkflow.run, wid)
        return await handle.result()

    async def ensure_schedules(self) -> dict[str, str]:
        return await ensure_schedules(self.temporal, self.settings)


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
