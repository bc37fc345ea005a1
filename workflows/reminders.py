"""ReminderWorkflow: one invoice's dunning flow on durable timers (docs/business-rules.md §6).

Waits until due date + grace, then sends level 1, 2 and 3 an interval apart, waits one more interval and hands the
invoice to the board. A signal (payment, credit note, cancellation) makes it look at the ledger at once and end when
the invoice is done; every send also checks first, so a signal that never came cannot cause a wrong reminder.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import Priority, SearchAttributePair, TypedSearchAttributes
from temporalio.exceptions import FailureError, WorkflowAlreadyStartedError
from temporalio.workflow import ActivityCancellationType

with workflow.unsafe.imports_passed_through():
    from activities.reminders import ReminderActivities
    from domain.contracts import SalesInvoice
    from domain.ids import workflow_id
    from domain.messages import SubmissionInput
    from domain.priorities import REMINDER_BUDGET, REMINDER_LEVEL, priority_of
    from domain.reminders import (
        FINAL_LEVEL,
        LEVEL_TITLES,
        CaseState,
        ReminderCall,
        ReminderInput,
        ReminderOutcome,
        ReminderStatus,
        first_reminder_at,
        needs_reminders,
        reminder_recipient,
    )
    from domain.verdicts import Verdict
    from workflows import search_attributes as sa
    from workflows.retries import retry_policy


# Not sandboxed (docs/decisions/0002-workflows-outside-the-sandbox.md): thousands of these flows sleep at once, and
# each wake-up of one no longer in the worker's cache builds a new instance, which the sandbox would re-import
# modules for. The code below only uses workflow.now(), timers, activities and signals.
@workflow.defn(sandboxed=False)
class ReminderWorkflow:
    def __init__(self) -> None:
        self._touched = False
        self._settled = False
        self._status: ReminderStatus | None = None

    @workflow.signal
    def invoice_changed(self, cause: str) -> None:
        """A payment, credit note or cancellation touched the invoice (``cause`` names which). "settled" comes from
        a payment whose step 1 already closed the case in the ledger: the flow ends without a ledger call. Other
        causes make the flow look at the ledger. Repeats are harmless."""
        self._touched = True
        if cause == SETTLED_BY_PAYMENT:
            self._settled = True

    @workflow.query
    def status(self) -> ReminderStatus | None:
        return self._status

    @workflow.run
    async def run(self, inp: ReminderInput) -> ReminderStatus:
        self._inp = inp
        try:
            return await self._remind(inp)
        except asyncio.CancelledError:
            # `temporal workflow cancel`: close the case in the ledger too, then end as cancelled.
            await self._call(ReminderActivities.stop_dunning_case, "stopped by an operator")
            raise

    async def _remind(self, inp: ReminderInput) -> ReminderStatus:
        due = first_reminder_at(inp.due_date, inp.policy, workflow.now())
        self._status = ReminderStatus(invoice=inp.invoice, state="scheduled", next_level=1, next_due=due)
        opened = await self._call(ReminderActivities.open_dunning_case, "open case", next_due=due)
        level = opened.levels_sent + 1
        if opened.outcome == "closed":
            return self._end(opened.state, opened.levels_sent)
        if level > 1:
            # Re-run after a reset: the ledger already holds the earlier levels; go on one interval from now.
            due = workflow.now() + inp.policy.interval
        while True:
            self._status = self._status.model_copy(
                update={"next_level": level if level <= FINAL_LEVEL else None, "next_due": due}
            )
            ended = await self._wait_until(due)
            if ended is not None:
                return self._end(ended.state, ended.levels_sent)
            if self._settled:  # told while a send was in flight; the ledger was closed after it committed
                return self._end("settled", self._status.levels_sent)
            if level > FINAL_LEVEL:
                done = await self._call(ReminderActivities.hand_off, "hand off to the board")
                return self._end(done.state, done.levels_sent)
            next_due = workflow.now() + inp.policy.interval
            sent = await self._call(
                ReminderActivities.send_reminder,
                f"level {level}: {LEVEL_TITLES[level]}",
                level=level,
                next_due=next_due,
            )
            if sent.outcome == "closed":
                return self._end(sent.state, sent.levels_sent)
            self._status = self._status.model_copy(update={"state": "reminding", "levels_sent": level})
            level, due = level + 1, next_due

    async def _wait_until(self, due: datetime) -> ReminderOutcome | None:
        """Sleep until ``due``; on each signal meanwhile, ask the ledger whether the invoice is done."""
        while True:
            remaining = due - workflow.now()
            if remaining <= timedelta(0):
                return None
            if not self._settled:
                try:
                    await workflow.wait_condition(lambda: self._touched, timeout=remaining)
                except TimeoutError:
                    return None
            self._touched = False
            if self._settled:
                assert self._status is not None
                return ReminderOutcome(outcome="closed", state="settled", levels_sent=self._status.levels_sent)
            checked = await self._call(ReminderActivities.check_invoice, "check the invoice")
            if checked.outcome == "closed":
                return checked

    async def _call(
        self, activity: object, summary: str, *, level: int = 0, next_due: datetime | None = None
    ) -> ReminderOutcome:
        inp = self._inp
        return await workflow.execute_activity_method(
            activity,  # type: ignore[arg-type]
            ReminderCall(
                site=inp.site,
                actor=inp.actor,
                invoice=inp.invoice,
                member=inp.member,
                at=workflow.now(),
                level=level,
                next_due=next_due,
                language=inp.policy.language,
            ),
            start_to_close_timeout=timedelta(seconds=60),
            retry_policy=retry_policy(REMINDER_BUDGET),
            priority=Priority(priority_key=int(priority_of(REMINDER_LEVEL, bulk=inp.bulk))),
            summary=summary,
            # An operator's cancel waits for a running step to finish: its commit then precedes the case's stop.
            cancellation_type=ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
        )

    def _end(self, state: CaseState, levels_sent: int) -> ReminderStatus:
        self._status = ReminderStatus(invoice=self._inp.invoice, state=state, levels_sent=levels_sent)
        return self._status


SETTLED_BY_PAYMENT = "settled"


def reminders_id(site: str, invoice: str) -> str:
    return workflow_id(site, "Sales Invoice", invoice) + ":reminders"


async def start_reminders(inp: SubmissionInput, verdict: Verdict) -> bool:
    """Start the invoice's reminder flow if it needs one. It outlives the invoice's workflow (ABANDON), which so
    completes once its own steps are done."""
    doc = inp.document
    assert isinstance(doc, SalesInvoice)
    member = reminder_recipient(doc.member, verdict.members)
    if member is None or not needs_reminders(
        grand_total=doc.grand_total,
        member=member,
        is_return=doc.is_return,
        docstatus=doc.docstatus,
        policy=inp.reminder_policy,
    ):
        return False
    try:
        await workflow.start_child_workflow(
            ReminderWorkflow.run,
            ReminderInput(
                site=inp.site,
                actor=inp.user,
                invoice=doc.name,
                member=member,
                due_date=doc.due_date or doc.posting_date,
                policy=inp.reminder_policy,
                bulk=inp.bulk,
            ),
            id=reminders_id(inp.site, doc.name),
            parent_close_policy=workflow.ParentClosePolicy.ABANDON,
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(sa.SITE, inp.site),
                    SearchAttributePair(sa.DOCTYPE, "Sales Invoice"),
                    SearchAttributePair(sa.DOCUMENT, doc.name),
                    SearchAttributePair(sa.STATE, "reminders"),
                    # Inputs recorded before job tracking carry no user key (and started their flows without these).
                    *(
                        [SearchAttributePair(sa.USER, inp.user_key), SearchAttributePair(sa.MEMBERS, [member])]
                        if inp.user_key
                        else []
                    ),
                ]
            ),
            static_summary=f"Reminders for Sales Invoice {doc.name} · €{doc.grand_total} · due {doc.due_date}",
        )
    except WorkflowAlreadyStartedError:
        return False  # started by an earlier run of this invoice's workflow (a reset): that flow goes on
    return True


async def touch_reminders(site: str, invoices: list[str], cause: str) -> None:
    """Tell the invoices' reminder flows to look at the ledger now. Most invoices have none (small dues) or one
    that has ended: that failure is expected and ignored; the flows check the ledger before every send anyway."""

    async def touch(invoice: str) -> None:
        with contextlib.suppress(FailureError):
            await workflow.get_external_workflow_handle(reminders_id(site, invoice)).signal(
                ReminderWorkflow.invoice_changed, cause
            )

    await asyncio.gather(*(touch(i) for i in sorted(set(invoices))))


async def stop_reminders(site: str, invoice: str) -> None:
    """Cancel the invoice's reminder flow (it closes its case as stopped). A flow that never started, or has ended,
    makes the request fail: that is the state wanted anyway."""
    with contextlib.suppress(FailureError):
        await workflow.get_external_workflow_handle(reminders_id(site, invoice)).cancel()
