"""What both submission workflows do alike: step 1 as a local activity, background steps with their retry budget and
priority, the progress a query reads, the audit of a failed step or a cancellation, the final state and the
submitter's notice. A plain helper the workflow holds and calls; the workflow's ``run`` tells the story.
Deterministic: it only orchestrates.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from datetime import timedelta
from functools import cached_property
from typing import Any

from temporalio import workflow
from temporalio.common import Priority
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError

with workflow.unsafe.imports_passed_through():
    from activities.audit import AuditActivities
    from activities.history import HistoryActivities
    from activities.notifications import NotificationActivities
    from activities.submission import SubmissionActivities
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
    from domain.notifications import Notice, NoticeKind, notifies, outcome
    from domain.priorities import (
        BOOKKEEPING_BUDGET,
        BOOKKEEPING_LEVEL,
        STEP_BUDGETS,
        VERDICT_BUDGET,
        Level,
        priority_of,
    )
    from domain.verdicts import Verdict
    from workflows import search_attributes as sa
    from workflows.patches import JOB_TRACKING
    from workflows.retries import retry_policy

Step = Coroutine[Any, Any, bool]


class SubmissionSteps:
    """One submission's steps and their progress, held by its workflow instance."""

    def __init__(self, inp: SubmissionInput) -> None:
        self.inp = inp
        self.verdict: Verdict | None = None
        self.steps: dict[str, StepProgress] = {}

    @cached_property
    def tracking(self) -> bool:
        """Job tracking (workflows/patches.py); read first right after step 1, as when histories were recorded."""
        return workflow.patched(JOB_TRACKING)

    async def validate_and_record(self) -> Verdict:
        """Step 1: the document validated, recorded and audited in one transaction; its verdict answers the ERP."""
        self.verdict = await workflow.execute_local_activity_method(
            SubmissionActivities.validate_and_record,
            self.inp,
            start_to_close_timeout=timedelta(seconds=10),
            schedule_to_close_timeout=timedelta(hours=24),
            retry_policy=retry_policy(VERDICT_BUDGET),
        )
        members = self.verdict.members if self.tracking else []
        self._set_state(self.verdict.status, *([sa.MEMBERS.value_set(members)] if members else []))
        return self.verdict

    def plan(self, *names: str) -> None:
        """Show the steps to come as pending before the first one starts."""
        for name in names:
            self.steps.setdefault(name, StepProgress(name=name))

    async def run(self, name: str, activity: Callable[..., Any], level: Level, summary: str, **about: Any) -> bool:
        """Run one background step; a failure is recorded and audited, never raised (the other steps go on)."""
        doc = self.inp.document
        arg = StepInput(site=self.inp.site, actor=self.inp.user, doctype=doc.doctype, name=doc.name, **about)
        progress = self.steps.setdefault(name, StepProgress(name=name))
        progress.status = "running"
        self._show_details()
        try:
            result = await workflow.execute_activity_method(
                activity,
                arg,
                activity_id=name,
                start_to_close_timeout=timedelta(seconds=60),
                retry_policy=retry_policy(STEP_BUDGETS[level]),
                priority=self._priority(level),
                summary=summary,
            )
        except ActivityError as err:
            if isinstance(err.cause, CancelledError) and self.tracking:
                # The workflow is being cancelled: a stopped step, not a failed one (cancelled() audits it).
                progress.status = "cancelled"
                raise asyncio.CancelledError() from err
            await self._failed(progress, err)
            return False
        progress.status = "done"
        progress.attempts = result.attempt
        progress.detail = result.detail
        self._show_details()
        return True

    def member_histories(self, members: list[str]) -> list[Step]:
        """One rebuild per member of the document's customer, to run in parallel (each is serialised per member in
        the ledger, so concurrent submissions touching one member cannot interleave). Create them right before
        awaiting them: a coroutine left unawaited (the workflow evicted meanwhile) is a warning."""
        self.plan(*history_step_names(members))
        return [
            self.run(
                f"history:{m}",
                HistoryActivities.rebuild_member_history,
                Level.NORMAL,
                f"rebuild history of {m}",
                member=m,
            )
            for m in members
        ]

    def progress(self) -> Progress:
        return Progress(workflow_id=workflow.info().workflow_id, verdict=self.verdict, steps=list(self.steps.values()))

    async def finish(self) -> PipelineResult:
        """The final state, the submitter's notice, and the workflow's result."""
        assert self.verdict is not None
        failed = [s.name for s in self.steps.values() if s.status == "failed"]
        tracking = self.tracking
        if self.verdict.accepted:
            self._set_state(
                "completed_with_failures" if failed else "completed",
                *([sa.FAILED_STEPS.value_set(failed)] if failed and tracking else []),
            )
        if tracking:
            doc = self.inp.document
            kind, message = outcome(doc.doctype, doc.name, self.verdict, self._list())
            if notifies(kind, bulk=self.inp.bulk):
                await self._notify(kind, message)
        return PipelineResult(verdict=self.verdict, steps=self._list())

    async def cancelled(self) -> None:
        """Cancelled by an operator or the job API: pending steps were stopped (a step already running finishes its
        own transaction, so the ledger holds each step's effect whole or not at all). Audit what happened and tell
        the submitter; the workflow then ends as cancelled."""
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

    async def _failed(self, progress: StepProgress, err: ActivityError) -> None:
        cause = err.cause
        details = cause.details[0] if isinstance(cause, ApplicationError) and cause.details else {}
        progress.status = "failed"
        progress.attempts = int(details.get("attempt", 1)) if isinstance(details, dict) else 1
        progress.last_error = cause.message if cause is not None else str(err)
        self._show_details()
        error_type = cause.type if isinstance(cause, ApplicationError) and cause.type else "ActivityError"
        doc = self.inp.document
        await self._bookkeeping(
            AuditActivities.record_step_failure,
            StepFailure(
                site=self.inp.site,
                actor=self.inp.user,
                doctype=doc.doctype,
                name=doc.name,
                step=progress.name,
                error_type=error_type,
                message=progress.last_error or "",
                attempts=progress.attempts,
            ),
            f"{AUDIT_FAILURE_PREFIX}{progress.name}",
            f"audit failure of {progress.name}",
        )

    async def _notify(self, kind: NoticeKind, message: str) -> None:
        doc = self.inp.document
        notice = Notice(
            site=self.inp.site,
            user=self.inp.user,
            user_key=self.inp.user_key,
            doctype=doc.doctype,
            name=doc.name,
            kind=kind,
            message=message,
        )
        await self._bookkeeping(NotificationActivities.notify, notice, NOTIFY_ID, f"notify submitter: {kind}")

    async def _bookkeeping(self, activity: Callable[..., Any], arg: Any, activity_id: str, summary: str) -> None:
        """Audit and notification: retried until done (they must not be lost), and left out of the user's step
        list (domain.jobs.is_step)."""
        await workflow.execute_activity_method(
            activity,
            arg,
            activity_id=activity_id,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=retry_policy(BOOKKEEPING_BUDGET),
            priority=self._priority(BOOKKEEPING_LEVEL),
            summary=summary,
        )

    def _priority(self, level: Level) -> Priority:
        return Priority(priority_key=int(priority_of(level, bulk=self.inp.bulk)))

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


def history_step_names(members: list[str]) -> list[str]:
    return [f"history:{m}" for m in members]


class SubmissionWorkflow:
    """The handlers both submission workflows expose (nothing of their story: that is each one's ``run``)."""

    def __init__(self) -> None:
        self._steps: SubmissionSteps | None = None

    @workflow.update
    async def verdict(self) -> Verdict:
        """Update-With-Start target: answers as soon as step 1 has decided."""
        await workflow.wait_condition(lambda: self._steps is not None and self._steps.verdict is not None)
        assert self._steps is not None and self._steps.verdict is not None
        return self._steps.verdict

    @workflow.query
    def progress(self) -> Progress:
        """Which steps are done, pending or failed, with attempts and last error."""
        if self._steps is None:
            return Progress(workflow_id=workflow.info().workflow_id)
        return self._steps.progress()
