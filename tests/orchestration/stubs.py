"""Stub activities for the orchestration tests: the real workflow classes, their activities replaced by stubs
registered under the same activity names, so the workflows' story runs on the Temporal dev server alone.

A test tells the stubs what to do for its workflow (a ``Script``: step 1's canned verdict, which steps fail or block,
what a reminder flow's ledger check answers) and reads back what they were called with, in order: every call gets
a number when it starts and another when it ends, from one counter, so "A ended before B started" is exact.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from temporalio import activity
from temporalio.client import Client, WithStartWorkflowOperation, WorkflowHandle
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

import worker as worker_module
from config.settings import Settings
from domain.errors import BUSINESS_ERROR
from domain.messages import Cancellation, PipelineResult, StepFailure, StepInput, StepResult, SubmissionInput
from domain.notifications import Notice
from domain.parsing import parse_submission
from domain.reminders import ReminderCall, ReminderOutcome
from domain.verdicts import FieldError, Verdict
from starter.submission_start import VERDICT_UPDATE_ID, submission_start

USER = "treasurer@example.nl"
# Retries of a background step wait 1000x shorter than in production (the real worker's own scaling interceptor).
RETRY_SCALE = 0.001
# How often a blocking stub heartbeats, and how soon the worker passes a heartbeat on (the SDK's default throttle
# of 30 s would let a cancellation reach the stub only half a minute later).
HEARTBEAT_EVERY = timedelta(milliseconds=20)
RESULT_TIMEOUT = 10.0


def accepted(*members: str) -> Verdict:
    return Verdict(status="accepted", members=list(members))


def rejected(field_name: str, code: str, message: str) -> Verdict:
    return Verdict(status="rejected", errors=[FieldError(field=field_name, code=code, message=message)])


@dataclass
class Call:
    """One call of a stub: the activity type and id, its argument, the priority it was scheduled with, and when it
    started and ended on the stubs' common counter."""

    activity: str
    activity_id: str
    arg: Any
    priority: int | None
    started: int
    ended: int | None = None
    outcome: str = "running"  # then: done, failed or cancelled


@dataclass
class Script:
    """What the stubs do for one workflow, and what they saw of it."""

    verdict: Verdict | None = None
    # activity id -> message of the business-rule violation the step fails with (never retried)
    failing: Mapping[str, str] = field(default_factory=dict)
    # activity ids of steps that heartbeat until they are cancelled
    blocking: Collection[str] = ()
    # what check_invoice answers a reminder flow that was told its invoice changed
    invoice_check: ReminderOutcome = field(default_factory=lambda: ReminderOutcome(outcome="open", state="scheduled"))
    calls: list[Call] = field(default_factory=list)
    blocked: asyncio.Event = field(default_factory=asyncio.Event)

    def called(self, *activities: str) -> list[Call]:
        """The calls of these activity types (all calls without any), in the order they started."""
        return [c for c in self.calls if not activities or c.activity in activities]

    def step(self, activity_id: str) -> Call:
        """The one call with this activity id (a step name such as ``sepa`` or ``history:M1``)."""
        calls = [c for c in self.calls if c.activity_id == activity_id]
        assert len(calls) == 1, f"{activity_id} was called {len(calls)} times: {self.calls}"
        return calls[0]

    def timeline(self) -> list[tuple[str, int, int | None]]:
        """(activity id, started, ended) of every call: what an ordering assertion prints when it fails."""
        return [(c.activity_id, c.started, c.ended) for c in self.calls]

    def args(self, activity_type: str) -> list[Any]:
        return [c.arg for c in self.called(activity_type)]

    @property
    def notified(self) -> list[str]:
        """The kinds of notice the submitter was sent."""
        return [n.kind for n in self.args("notify")]


class Stubs:
    """The stub activities one worker pair serves. Each workflow id has its own ``Script``."""

    def __init__(self) -> None:
        self._scripts: dict[str, Script] = {}
        self._clock = itertools.count(1)
        self._lock = threading.Lock()

    def script(self, wid: str, **what: Any) -> Script:
        """What the stubs do for workflow ``wid`` (before it starts); also read later for what they saw."""
        with self._lock:
            script = self._scripts[wid] = Script(**what)
        return script

    def of(self, wid: str) -> Script:
        """The script of ``wid``: an empty one for a workflow no test scripted (a reminder flow)."""
        with self._lock:
            return self._scripts.setdefault(wid, Script())

    # -- what every stub does -----------------------------------------------------------------------------------

    def _start(self, arg: Any) -> tuple[Script, Call]:
        info = activity.info()
        script = self.of(info.workflow_id or "")
        with self._lock:
            call = Call(
                activity=info.activity_type,
                activity_id=info.activity_id,
                arg=arg,
                priority=info.priority.priority_key if info.priority else None,
                started=next(self._clock),
            )
            script.calls.append(call)
        return script, call

    def _end(self, call: Call, outcome: str) -> None:
        with self._lock:
            call.ended = next(self._clock)
            call.outcome = outcome

    async def _step(self, inp: StepInput) -> StepResult:
        script, call = self._start(inp)
        info = activity.info()
        try:
            if info.activity_id in script.blocking:
                script.blocked.set()
                while True:  # until the cancellation arrives with a heartbeat's answer
                    activity.heartbeat()
                    await asyncio.sleep(HEARTBEAT_EVERY.total_seconds())
            if (message := script.failing.get(info.activity_id)) is not None:
                # What activities/failures.py makes of a BusinessRuleViolation.
                raise ApplicationError(
                    message, {"code": "stubbed", "attempt": info.attempt}, type=BUSINESS_ERROR, non_retryable=True
                )
        except asyncio.CancelledError:
            self._end(call, "cancelled")
            raise
        except ApplicationError:
            self._end(call, "failed")
            raise
        self._end(call, "done")
        return StepResult(step=info.activity_id, attempt=info.attempt, changed=True, detail="stubbed")

    def _record(self, arg: Any) -> Script:
        script, call = self._start(arg)
        self._end(call, "done")
        return script

    # -- step 1 (the workflow role's local activity) ------------------------------------------------------------

    @activity.defn(name="validate_and_record")
    async def validate_and_record(self, inp: SubmissionInput) -> Verdict:
        script = self._record(inp)
        assert script.verdict is not None, f"no verdict scripted for {activity.info().workflow_id}"
        return script.verdict.model_copy(update={"workflow_id": activity.info().workflow_id})

    # -- background steps ---------------------------------------------------------------------------------------

    @activity.defn(name="update_mandate")
    async def update_mandate(self, inp: StepInput) -> StepResult:
        return await self._step(inp)

    @activity.defn(name="rebuild_member_history")
    async def rebuild_member_history(self, inp: StepInput) -> StepResult:
        return await self._step(inp)

    @activity.defn(name="record_payment_facts")
    async def record_payment_facts(self, inp: StepInput) -> StepResult:
        return await self._step(inp)

    # -- bookkeeping --------------------------------------------------------------------------------------------

    @activity.defn(name="record_step_failure")
    async def record_step_failure(self, failure: StepFailure) -> None:
        self._record(failure)

    @activity.defn(name="record_cancellation")
    async def record_cancellation(self, cancellation: Cancellation) -> None:
        self._record(cancellation)

    @activity.defn(name="notify")
    async def notify(self, notice: Notice) -> bool:
        self._record(notice)
        return True

    # -- a reminder flow's steps --------------------------------------------------------------------------------

    @activity.defn(name="open_dunning_case")
    async def open_dunning_case(self, call: ReminderCall) -> ReminderOutcome:
        self._record(call)
        return ReminderOutcome(outcome="open", state="scheduled")

    @activity.defn(name="check_invoice")
    async def check_invoice(self, call: ReminderCall) -> ReminderOutcome:
        return self._record(call).invoice_check

    @activity.defn(name="send_reminder")
    async def send_reminder(self, call: ReminderCall) -> ReminderOutcome:
        self._record(call)
        return ReminderOutcome(outcome="sent", state="reminding", levels_sent=call.level)

    @activity.defn(name="hand_off")
    async def hand_off(self, call: ReminderCall) -> ReminderOutcome:
        self._record(call)
        return ReminderOutcome(outcome="handed_off", state="handed_off", levels_sent=3)

    @activity.defn(name="stop_dunning_case")
    async def stop_dunning_case(self, call: ReminderCall) -> ReminderOutcome:
        self._record(call)
        return ReminderOutcome(outcome="closed", state="stopped")

    def step1(self) -> list[Callable[..., Any]]:
        return [self.validate_and_record]

    def background(self) -> list[Callable[..., Any]]:
        return [
            self.rebuild_member_history,
            self.update_mandate,
            self.record_payment_facts,
            self.record_step_failure,
            self.record_cancellation,
            self.notify,
            self.open_dunning_case,
            self.check_invoice,
            self.send_reminder,
            self.hand_off,
            self.stop_dunning_case,
        ]


@contextlib.asynccontextmanager
async def running_workers(
    client: Client, task_queue: str, stubs: Stubs, workflows: Sequence[type] = worker_module.WORKFLOWS
) -> AsyncIterator[Settings]:
    """worker.py's two roles on one task queue: the workflow role exactly as the worker wires it (workflows, step 1
    as a local activity, no remote activities, retry scaling), and the background role with the stubs, passing
    heartbeats on at once."""
    settings = Settings(task_queue=task_queue, retry_interval_scale=RETRY_SCALE, upkeep_schedules=False)
    with worker_module.ActivityPools.create(settings) as pools:
        [workflow_role] = worker_module.queue_workers(
            client, settings, pools, "workflows", workflows=workflows, step1=stubs.step1(), background=[]
        )
        background_role = Worker(
            client,
            task_queue=task_queue,
            activities=stubs.background(),
            max_concurrent_activities=settings.max_concurrent_activities,
            default_heartbeat_throttle_interval=HEARTBEAT_EVERY,
            max_heartbeat_throttle_interval=HEARTBEAT_EVERY,
            graceful_shutdown_timeout=timedelta(seconds=1),
        )
        async with workflow_role, background_role:
            yield settings


@dataclass
class Submission:
    """A submitted document: what the verdict update answered, its workflow, and what the stubs saw of it."""

    verdict: Verdict
    handle: WorkflowHandle[Any, PipelineResult]
    stubs: Script

    async def result(self) -> PipelineResult:
        try:
            async with asyncio.timeout(RESULT_TIMEOUT):
                return await self.handle.result()
        except TimeoutError:
            raise AssertionError(await stuck(self.handle)) from None


async def stuck(handle: WorkflowHandle[Any, Any]) -> str:
    """Why a workflow did not end in time: its pending activities and their last failure (a stub whose name is
    not the activity's shows up here as "not registered")."""
    pending = (await handle.describe()).raw_description.pending_activities
    lines = [f"{a.activity_type.name} ({a.activity_id}): {a.last_failure.message or 'no failure'}" for a in pending]
    return f"{handle.id} did not end within {RESULT_TIMEOUT} s; pending: " + ("; ".join(lines) or "none")


@dataclass
class Harness:
    client: Client
    settings: Settings
    stubs: Stubs

    async def submit(self, doc: Mapping[str, Any], *, site: str, bulk: bool = False, **script: Any) -> Submission:
        """Start the document's workflow as starter/client.py's submit does (starter/submission_start.py, then
        Update-With-Start on the verdict update), with ``script`` telling the stubs what to do."""
        parsed = parse_submission(doc, currency=self.settings.currency)
        start = submission_start(self.settings, parsed, site=site, user=USER, bulk=bulk)
        wid, wf = start.workflow_id, start.workflow
        seen = self.stubs.script(wid, **script)
        operation = WithStartWorkflowOperation(wf.run, start.input, **start.options)
        async with asyncio.timeout(RESULT_TIMEOUT):
            verdict = await self.client.execute_update_with_start_workflow(
                wf.verdict, start_workflow_operation=operation, id=VERDICT_UPDATE_ID
            )
        handle = self.client.get_workflow_handle(wid, result_type=PipelineResult)
        return Submission(verdict=verdict, handle=handle, stubs=seen)


def own_task_queue(module: str) -> str:
    return f"orchestration-{module.rsplit('.', 1)[-1]}-{uuid.uuid4().hex[:6]}"
