"""The machinery both pipelines share: step 1 as a local activity, background steps with retry policies,
progress that a query can read, and the audit of failed steps. Deterministic: it only orchestrates.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import Priority, RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError

with workflow.unsafe.imports_passed_through():
    from activities.audit import AuditActivities
    from activities.history import HistoryActivities
    from activities.notifications import NotificationActivities
    from activities.submission import SubmissionActivities
    from domain.errors import BUSINESS_ERROR
    from domain.jobs import AUDIT_CANCELLATION_ID, AUDIT_FAILURE_PREFIX, NOTIFY_ID
    from domain.messages import (
        Cancellation,
        PipelineResult,
        Progress,
        StepFailure,
        StepInput,
        StepProgress,
        SubmissionInput,
    )
    from domain.notifications import Notice, outcome
    from domain.priorities import RETRY_BUDGETS, Level
    from domain.verdicts import Verdict
    from workflows import search_attributes as sa

# Step 1 answers a waiting user: retry quickly, and keep retrying (a database outage leaves the verdict
# "pending" for the ERP and the workflow waiting durably, instead of losing the submission).
VALIDATE_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    non_retryable_error_types=[BUSINESS_ERROR],
)

# Job tracking (docs/business-rules.md §8): members and failed steps as search attributes, a notification when
# the submission ends, an audited cancellation. Histories recorded before it replay without.
JOB_TRACKING = "job-tracking"

# Bookkeeping steps (audit of a failure, notification, cancellation) must not be lost: they retry until done.
BOOKKEEPING_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))


def retry_policy(level: Level, scale: float) -> RetryPolicy:
    budget = RETRY_BUDGETS[level]
    return RetryPolicy(
        initial_interval=timedelta(seconds=budget.initial_interval_seconds * scale),
        backoff_coefficient=budget.backoff,
        maximum_interval=timedelta(seconds=budget.maximum_interval_seconds * scale),
        maximum_attempts=budget.maximum_attempts(),
        non_retryable_error_types=[BUSINESS_ERROR],
    )


class Pipeline:
    """Held by a workflow instance; records each step's progress as the workflow runs it."""

    def __init__(self, inp: SubmissionInput) -> None:
        self.inp = inp
        self.verdict: Verdict | None = None
        self.steps: dict[str, StepProgress] = {}

    @property
    def tracking(self) -> bool:
        return workflow.patched(JOB_TRACKING)

    async def validate(self) -> Verdict:
        self.verdict = await workflow.execute_local_activity_method(
            SubmissionActivities.validate_and_record,
            self.inp,
            start_to_close_timeout=timedelta(seconds=10),
            schedule_to_close_timeout=timedelta(hours=24),
            retry_policy=VALIDATE_RETRY,
        )
        members = self.verdict.members if self.tracking else []
        self._set_state(self.verdict.status, *([sa.MEMBERS.value_set(members)] if members else []))
        return self.verdict

    def plan(self, *names: str) -> None:
        for name in names:
            self.steps.setdefault(name, StepProgress(name=name))

    def step_input(self, member: str | None = None) -> StepInput:
        doc = self.inp.document
        return StepInput(site=self.inp.site, actor=self.inp.user, doctype=doc.doctype, name=doc.name, member=member)

    async def run_step(
        self,
        name: str,
        activity: Callable[..., Any],
        arg: StepInput,
        level: Level,
        summary: str,
    ) -> bool:
        """Run one background step; a failure is recorded and audited, never raised (other steps go on)."""
        progress = self.steps.setdefault(name, StepProgress(name=name))
        progress.status = "running"
        self._show_details()
        try:
            result = await workflow.execute_activity_method(
                activity,
                arg,
                activity_id=name,
                task_queue=self.inp.background_task_queue,
                start_to_close_timeout=timedelta(seconds=60),
                retry_policy=retry_policy(level, self.inp.retry_interval_scale),
                priority=self._priority(level),
                summary=summary,
            )
        except ActivityError as err:
            cause = err.cause
            if isinstance(cause, CancelledError) and self.tracking:
                # The workflow is being cancelled: a stopped step, not a failed one (execute() audits it).
                progress.status = "cancelled"
                raise asyncio.CancelledError() from err
            details = cause.details[0] if isinstance(cause, ApplicationError) and cause.details else {}
            progress.status = "failed"
            progress.attempts = int(details.get("attempt", 1)) if isinstance(details, dict) else 1
            progress.last_error = cause.message if cause is not None else str(err)
            self._show_details()
            error_type = cause.type if isinstance(cause, ApplicationError) and cause.type else "ActivityError"
            await self._bookkeeping(
                AuditActivities.record_step_failure,
                StepFailure(
                    site=arg.site,
                    actor=arg.actor,
                    doctype=arg.doctype,
                    name=arg.name,
                    step=name,
                    error_type=error_type or "ActivityError",
                    message=progress.last_error or "",
                    attempts=progress.attempts,
                ),
                f"{AUDIT_FAILURE_PREFIX}{name}",
                f"audit failure of {name}",
            )
            return False
        progress.status = "done"
        progress.attempts = result.attempt
        progress.detail = result.detail
        self._show_details()
        return True

    async def run_parallel(self, *steps: Coroutine[Any, Any, bool]) -> list[bool]:
        return list(await asyncio.gather(*steps))

    @staticmethod
    def history_step_names(members: list[str]) -> list[str]:
        return [f"history:{m}" for m in members]

    def history_steps(self, members: list[str]) -> list[Coroutine[Any, Any, bool]]:
        """One rebuild per member of the document's customer; they run in parallel (each is serialised per member
        in the ledger, so concurrent pipelines touching one member cannot interleave). Create them only right
        before awaiting: a coroutine left unawaited (workflow evicted meanwhile) is a warning."""
        self.plan(*self.history_step_names(members))
        return [
            self.run_step(
                f"history:{m}",
                HistoryActivities.rebuild_member_history,
                self.step_input(member=m),
                Level.NORMAL,
                f"rebuild history of {m}",
            )
            for m in members
        ]

    def progress(self) -> Progress:
        return Progress(workflow_id=workflow.info().workflow_id, verdict=self.verdict, steps=list(self.steps.values()))

    async def finish(self) -> PipelineResult:
        """The workflow's result: final state, and the submitting user's notification."""
        assert self.verdict is not None
        failed = [s.name for s in self.steps.values() if s.status == "failed"]
        tracking = self.tracking
        if self.verdict.accepted:
            self._set_state(
                "completed_with_failures" if failed else "completed",
                *([sa.FAILED_STEPS.value_set(failed)] if failed and tracking else []),
            )
        if tracking:
            kind, message = outcome(self.inp.document.doctype, self.inp.document.name, self.verdict, self._list())
            # A backfill of thousands of documents tells its user only what needs a look, not every success.
            if not (self.inp.bulk and kind == "completed"):
                await self._notify(kind, message)
        return PipelineResult(verdict=self.verdict, steps=self._list())

    async def cancelled(self) -> None:
        """Cancelled by an operator or the job API: pending steps were stopped (a step already running finishes
        its own transaction, so the ledger holds each step's effect whole or not at all). Audit what happened and
        tell the user; the caller re-raises so the workflow ends as cancelled."""
        if not self.tracking:
            return
        stopped = [s.name for s in self.steps.values() if s.status in ("pending", "running", "cancelled")]
        for name in stopped:
            self.steps[name].status = "cancelled"
        self._show_details()
        doc = self.inp.document
        await self._bookkeeping(
            AuditActivities.record_cancellation,
            Cancellation(
                site=self.inp.site,
                actor=self.inp.user,
                doctype=doc.doctype,
                name=doc.name,
                steps_done=[s.name for s in self.steps.values() if s.status == "done"],
                steps_stopped=stopped,
            ),
            AUDIT_CANCELLATION_ID,
            "audit cancellation",
        )
        await self._notify(*outcome(doc.doctype, doc.name, self.verdict, self._list(), cancelled=True))
        self._set_state("cancelled")

    async def _notify(self, kind: str, message: str) -> None:
        doc = self.inp.document
        notice = Notice(
            site=self.inp.site,
            user=self.inp.user,
            user_key=self.inp.user_key,
            doctype=doc.doctype,
            name=doc.name,
            kind=kind,  # type: ignore[arg-type]
            message=message,
        )
        await self._bookkeeping(NotificationActivities.notify, notice, NOTIFY_ID, f"notify submitter: {kind}")

    async def _bookkeeping(self, activity: Callable[..., Any], arg: Any, activity_id: str, summary: str) -> None:
        """Audit and notification steps: on the background queue at HIGH, retried until done (they must not be
        lost), and left out of the user's step list (domain.jobs.is_step)."""
        await workflow.execute_activity_method(
            activity,
            arg,
            activity_id=activity_id,
            task_queue=self.inp.background_task_queue,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=BOOKKEEPING_RETRY,
            priority=self._priority(Level.HIGH),
            summary=summary,
        )

    def _priority(self, level: Level) -> Priority:
        """Everything of a backfilled document waits behind live work, its bookkeeping included."""
        return Priority(priority_key=int(Level.BULK if self.inp.bulk else level))

    def _list(self) -> list[StepProgress]:
        return list(self.steps.values())

    def _show_details(self) -> None:
        """Web UI "current details": one line per step. Not a history event, so free to update often."""
        workflow.set_current_details("\n".join(f"- {s.name}: {s.status}" for s in self.steps.values()))

    def _set_state(self, state: str, *extra: Any) -> None:
        """DuesflowState: submitted (set at start) → accepted | rejected → completed | completed_with_failures,
        or cancelled. Only these transitions (extra attributes ride along in the same upsert): every upsert is a
        history event and costs the worker and the server."""
        workflow.upsert_search_attributes([sa.STATE.value_set(state), *extra])


class PipelineWorkflow:
    """Handlers both workflows expose; subclasses add ``@workflow.defn`` and their ``run``."""

    def __init__(self) -> None:
        self._pipeline: Pipeline | None = None

    @workflow.update
    async def verdict(self) -> Verdict:
        """Update-With-Start target: answers as soon as step 1 has decided."""
        await workflow.wait_condition(lambda: self._pipeline is not None and self._pipeline.verdict is not None)
        assert self._pipeline is not None and self._pipeline.verdict is not None
        return self._pipeline.verdict

    async def execute(
        self,
        inp: SubmissionInput,
        background: Callable[[Pipeline], Coroutine[Any, Any, None]],
        on_cancel: Callable[[Pipeline], Coroutine[Any, Any, None]] | None = None,
    ) -> PipelineResult:
        """Step 1, then (if it accepted a document that runs a pipeline) the workflow's background steps.
        ``on_cancel`` stops what the background started beyond this workflow (an invoice's reminder flow)."""
        pipeline = self._pipeline = Pipeline(inp)
        try:
            verdict = await pipeline.validate()
            if verdict.accepted and verdict.runs_pipeline:
                await background(pipeline)
        except asyncio.CancelledError:
            if on_cancel is not None and pipeline.tracking and pipeline.verdict is not None:
                await on_cancel(pipeline)
            await pipeline.cancelled()
            raise
        return await pipeline.finish()

    @workflow.query
    def progress(self) -> Progress:
        """Which steps are done, pending or failed, with attempts and last error."""
        if self._pipeline is None:
            return Progress(workflow_id=workflow.info().workflow_id)
        return self._pipeline.progress()
