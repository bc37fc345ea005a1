"""PaymentEntryWorkflow: verdict first (step 1), then SEPA, member history and analytics in the background."""

from __future__ import annotations

import asyncio

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.analytics import AnalyticsActivities
    from activities.sepa import SepaActivities
    from domain.contracts import PaymentEntry
    from domain.messages import PipelineResult, SubmissionInput
    from domain.priorities import Level
    from workflows.pipeline import Pipeline, PipelineWorkflow
    from workflows.reminders import SETTLED_BY_PAYMENT, touch_reminders


# Not sandboxed, like ReminderWorkflow: every submission builds a new instance, and in the sandbox that instance
# re-imports its modules (bench, both engines unsandboxed alike: worker CPU per payment at 10/s 58 -> 50 ms; latency
# and throughput moved within the run-to-run noise). Determinism is guarded by the replay tests and
# tests/unit/test_workflow_determinism.py.
@workflow.defn(sandboxed=False)
class PaymentEntryWorkflow(PipelineWorkflow):
    @workflow.run
    async def run(self, inp: SubmissionInput) -> PipelineResult:
        return await self.execute(inp, self._background)

    @staticmethod
    async def _background(pipeline: Pipeline) -> None:
        inp, verdict = pipeline.inp, pipeline.verdict
        doc = inp.document
        assert isinstance(doc, PaymentEntry) and verdict is not None
        # Step 1 closed the dunning cases of the invoices this payment settles: their flows end now (alongside the
        # steps). Other flows find the payment when they next check, before any send.
        # Histories recorded before reminders existed replay without this.
        touched = (
            asyncio.create_task(touch_reminders(inp.site, verdict.ends_reminders, SETTLED_BY_PAYMENT))
            if verdict.ends_reminders and workflow.patched("reminders")
            else None
        )

        pipeline.plan(*(["sepa"] if doc.is_sepa else []), *pipeline.history_step_names(verdict.members), "analytics")
        if doc.is_sepa:
            # Before the history: history rows carry the mandate reference of collected usages.
            await pipeline.run_step(
                "sepa", SepaActivities.update_mandate, pipeline.step_input(), Level.CRITICAL, "SEPA mandate usage"
            )
        await pipeline.run_parallel(
            *pipeline.history_steps(verdict.members),
            pipeline.run_step(
                "analytics",
                AnalyticsActivities.record_payment_facts,
                pipeline.step_input(),
                Level.LOW,
                "payment analytics",
            ),
        )
        if touched is not None:
            await touched
