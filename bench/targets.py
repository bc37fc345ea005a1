"""What a scenario submits to: duesflow itself, the engine floor, or the predecessor's inline processing."""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any, Protocol

from sqlalchemy import Engine
from temporalio.client import Client, WithStartWorkflowOperation, WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import ActivityEnvironment

from activities.analytics import AnalyticsActivities
from activities.history import HistoryActivities
from activities.sepa import SepaActivities
from activities.submission import SubmissionActivities
from bench.floor import FloorWorkflow
from bench.floor_support import FloorInput
from config.settings import Settings
from domain.contracts import PaymentEntry
from domain.ids import check_site, workflow_id
from domain.messages import StepInput, SubmissionInput
from domain.parsing import parse_submission
from domain.verdicts import DocumentRejected, Verdict
from ledger.cache import ReadCache
from starter.client import DuesflowClient
from starter.submission_start import submission_start

Doc = Mapping[str, Any]


class Target(Protocol):
    engine: str
    site: str

    async def submit(self, doc: Doc) -> Verdict: ...

    def workflow_id(self, doc: Doc) -> str: ...


class DuesflowTarget:
    """duesflow's own client: ``DuesflowClient.submit`` (Update-With-Start of the document's workflow)."""

    engine = "duesflow"

    def __init__(self, client: DuesflowClient, site: str, user: str) -> None:
        self.client = client
        self.site = site
        self.user = user

    async def submit(self, doc: Doc) -> Verdict:
        return await self.client.submit(doc, site=self.site, user=self.user)

    def workflow_id(self, doc: Doc) -> str:
        return workflow_id(self.site, doc["doctype"], doc["name"])


class FloorTarget:
    """The same call as ``DuesflowClient.submit`` (same parsing, input, search attributes, summary, policies),
    aimed at ``FloorWorkflow`` on the floor worker's task queues."""

    engine = "floor"

    def __init__(
        self, client: Client, settings: Settings, site: str, user: str, members_of: Callable[[Doc], list[str]]
    ) -> None:
        self.client = client
        self.settings = settings
        self.site = site
        self.user = user
        self.members_of = members_of

    async def submit(self, doc: Doc) -> Verdict:
        check_site(self.site)
        try:
            parsed = parse_submission(doc, currency=self.settings.currency)
        except DocumentRejected as exc:
            return Verdict(status="rejected", errors=exc.errors)
        # Started exactly as duesflow's submit starts a document (id, policies, search attributes, summary).
        submission = submission_start(self.settings, parsed, site=self.site, user=self.user)
        wid = submission.workflow_id
        inp = FloorInput(submission=submission.input, members=self.members_of(doc))
        start = WithStartWorkflowOperation(FloorWorkflow.run, inp, **submission.options)
        try:
            return await self.client.execute_update_with_start_workflow(
                FloorWorkflow.verdict,
                start_workflow_operation=start,
                rpc_timeout=timedelta(seconds=self.settings.verdict_timeout_seconds),
            )
        except WorkflowUpdateRPCTimeoutOrCancelledError:
            return Verdict(status="pending", workflow_id=wid)
        except RPCError as exc:
            if exc.status == RPCStatusCode.DEADLINE_EXCEEDED:
                return Verdict(status="pending", workflow_id=wid)
            raise

    def workflow_id(self, doc: Doc) -> str:
        return workflow_id(self.site, doc["doctype"], doc["name"])


@dataclasses.dataclass
class InlineOutcome:
    verdict: Verdict | None
    validate_seconds: float
    total_seconds: float
    steps: int = 0
    failed_steps: int = 0
    error: str | None = None


class InlineProcessor:
    """The predecessor's synchronous way: the caller runs every step itself, one after the other.

    Runs duesflow's activity code (the same functions the workers run) through ``ActivityEnvironment``, which gives
    them the ``activity.info()`` they read; the workflow id is the one a Temporal run would have, so the audit
    dedupe keys and everything written to the ledger look the same.
    """

    def __init__(self, engine: Engine, cache: ReadCache, settings: Settings, site: str, user: str) -> None:
        self.settings = settings
        self.site = site
        self.user = user
        self.submission = SubmissionActivities(engine)
        self.sepa = SepaActivities(engine)
        self.history = HistoryActivities(engine)
        self.analytics = AnalyticsActivities(engine)

    def process(self, doc: Doc) -> InlineOutcome:
        t0 = time.perf_counter()
        try:
            parsed = parse_submission(doc, currency=self.settings.currency)
        except DocumentRejected as exc:
            now = time.perf_counter() - t0
            return InlineOutcome(Verdict(status="rejected", errors=exc.errors), now, now)
        env = ActivityEnvironment()
        base = dataclasses.replace(
            env.info,
            workflow_id=workflow_id(self.site, parsed.doctype, parsed.name),
            workflow_run_id=str(uuid.uuid4()),
            workflow_type="Inline",
            task_queue="inline",
        )
        env.info = dataclasses.replace(base, activity_id="1", activity_type="validate_and_record", is_local=True)
        inp = SubmissionInput(site=self.site, user=self.user, document=parsed)
        try:
            verdict = env.run(self.submission.validate_and_record, inp)
        except Exception as exc:
            now = time.perf_counter() - t0
            return InlineOutcome(None, now, now, error=f"{type(exc).__name__}: {exc}")
        t1 = time.perf_counter()
        outcome = InlineOutcome(verdict, t1 - t0, 0.0)
        if verdict.accepted and verdict.runs_pipeline:
            step = StepInput(site=self.site, actor=self.user, doctype=parsed.doctype, name=parsed.name)
            steps: list[tuple[str, Callable[[StepInput], Any], StepInput]] = []
            if isinstance(parsed, PaymentEntry) and parsed.is_sepa:
                steps.append(("sepa", self.sepa.update_mandate, step))
            for member in verdict.members:
                m_step = step.model_copy(update={"member": member})
                steps.append((f"history:{member}", self.history.rebuild_member_history, m_step))
            steps.append(("analytics", self.analytics.record_payment_facts, step))
            for name, fn, arg in steps:
                env.info = dataclasses.replace(base, activity_id=name, activity_type=name.split(":")[0])
                outcome.steps += 1
                try:
                    env.run(fn, arg)
                except ApplicationError as exc:
                    outcome.failed_steps += 1
                    outcome.error = outcome.error or f"{name}: {exc}"
        outcome.total_seconds = time.perf_counter() - t0
        return outcome
