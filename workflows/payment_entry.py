"""PaymentEntryWorkflow: a payment's verdict first (step 1), then its SEPA mandate, its members' histories and its
analytics in the background."""

from __future__ import annotations

import asyncio

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.analytics import AnalyticsActivities
    from activities.sepa import SepaActivities
    from domain.contracts import PaymentEntry
    from domain.messages import PipelineResult, SubmissionInput
    from domain.priorities import Level
    from workflows.patches import REMINDERS
    from workflows.reminders import SETTLED_BY_PAYMENT, touch_reminders
    from workflows.submission_steps import SubmissionSteps, SubmissionWorkflow, history_step_names


# Not sandboxed (docs/decisions/0002-workflows-outside-the-sandbox.md): every submission builds a new instance, and
# in the sandbox each instance re-imports its modules. The replay tests guard determinism.
@workflow.defn(sandboxed=False)
class PaymentEntryWorkflow(SubmissionWorkflow):
    @workflow.run
    async def run(self, inp: SubmissionInput) -> PipelineResult:
        payment = inp.document
        assert isinstance(payment, PaymentEntry)
        steps = self._steps = SubmissionSteps(inp)
        try:
            verdict = await steps.validate_and_record()
            if verdict.accepted and verdict.runs_pipeline:
                # Step 1 closed the dunning cases of the invoices this payment settles: their reminder flows end now,
                # alongside the steps. Other flows find the payment when they next check, before any send.
                settled = (
                    asyncio.create_task(touch_reminders(inp.site, verdict.ends_reminders, SETTLED_BY_PAYMENT))
                    if verdict.ends_reminders and workflow.patched(REMINDERS)
                    else None
                )
                steps.plan(*(["sepa"] if payment.is_sepa else []), *history_step_names(verdict.members), "analytics")
                if payment.is_sepa:
                    # Before the histories: their rows carry the mandate reference of collected usages.
                    await steps.run("sepa", SepaActivities.update_mandate, Level.CRITICAL, "SEPA mandate usage")
                await asyncio.gather(
                    *steps.member_histories(verdict.members),
                    steps.run("analytics", AnalyticsActivities.record_payment_facts, Level.LOW, "payment analytics"),
                )
                if settled is not None:
                    await settled
        except asyncio.CancelledError:
            await steps.cancelled()
            raise
        return await steps.finish()
