"""SalesInvoiceWorkflow: an invoice's verdict first (step 1), then every affected member's history in the
background and, alongside, the invoice's reminder side: its own flow started (a child that outlives this workflow),
or the flow a credit note or cancellation speaks to told."""

from __future__ import annotations

import asyncio

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain.contracts import SalesInvoice
    from domain.messages import PipelineResult, SubmissionInput
    from domain.reminders import stopped_with_submission, touched_by
    from domain.verdicts import Verdict
    from workflows.patches import REMINDERS
    from workflows.reminders import start_reminders, stop_reminders, touch_reminders
    from workflows.submission_steps import SubmissionSteps, SubmissionWorkflow


# Not sandboxed (docs/decisions/0002-workflows-outside-the-sandbox.md): every submission builds a new instance, and
# in the sandbox each instance re-imports its modules. The replay tests guard determinism.
@workflow.defn(sandboxed=False)
class SalesInvoiceWorkflow(SubmissionWorkflow):
    @workflow.run
    async def run(self, inp: SubmissionInput) -> PipelineResult:
        invoice = inp.document
        assert isinstance(invoice, SalesInvoice)
        steps = self._steps = SubmissionSteps(inp)
        reminders: asyncio.Task[None] | None = None
        try:
            verdict = await steps.validate_and_record()
            if verdict.accepted and verdict.runs_pipeline:
                # Alongside the histories (their commands leave in one workflow task).
                reminders = (
                    asyncio.create_task(self._reminders(inp, invoice, verdict)) if workflow.patched(REMINDERS) else None
                )
                await asyncio.gather(*steps.member_histories(verdict.members))
                if reminders is not None:
                    await reminders
        except asyncio.CancelledError:
            # A cancelled invoice submission sends no reminders either.
            if (
                steps.tracking
                and steps.verdict is not None
                and stopped_with_submission(
                    accepted=steps.verdict.accepted, docstatus=invoice.docstatus, is_return=invoice.is_return
                )
            ):
                if reminders is not None:
                    # A flow whose start is still in flight cannot be cancelled yet: let the start finish first.
                    await asyncio.wait([reminders])
                await stop_reminders(inp.site, invoice.name)
            await steps.cancelled()
            raise
        return await steps.finish()

    @staticmethod
    async def _reminders(inp: SubmissionInput, invoice: SalesInvoice, verdict: Verdict) -> None:
        touched = touched_by(
            name=invoice.name,
            docstatus=invoice.docstatus,
            is_return=invoice.is_return,
            return_against=invoice.return_against,
        )
        if touched is not None:
            flow_of, cause = touched
            await touch_reminders(inp.site, [flow_of], cause)
        else:
            await start_reminders(inp, verdict)
