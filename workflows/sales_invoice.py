"""SalesInvoiceWorkflow: verdict first (step 1), then every affected member's history in the background, and the
invoice's reminder flow (a child that outlives this workflow)."""

from __future__ import annotations

import asyncio

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain.contracts import SalesInvoice
    from domain.messages import PipelineResult, SubmissionInput
    from domain.verdicts import Verdict
    from workflows.pipeline import Pipeline, PipelineWorkflow
    from workflows.reminders import start_reminders, stop_reminders, touch_reminders


# Not sandboxed, like ReminderWorkflow: every submission builds a new instance, and in the sandbox that instance
# re-imports its modules (bench, both engines unsandboxed alike: worker CPU per payment at 10/s 58 -> 50 ms; latency
# and throughput moved within the run-to-run noise). Determinism is guarded by the replay tests and
# tests/unit/test_workflow_determinism.py.
@workflow.defn(sandboxed=False)
class SalesInvoiceWorkflow(PipelineWorkflow):
    @workflow.run
    async def run(self, inp: SubmissionInput) -> PipelineResult:
        return await self.execute(inp, self._background, self._stop_reminders)

    @classmethod
    async def _background(cls, pipeline: Pipeline) -> None:
        inp, verdict = pipeline.inp, pipeline.verdict
        doc = inp.document
        assert isinstance(doc, SalesInvoice) and verdict is not None
        # Alongside the histories (their commands leave in one workflow task). Histories recorded before
        # reminders existed replay without them.
        reminders = asyncio.create_task(cls._reminders(inp, doc, verdict)) if workflow.patched("reminders") else None
        await pipeline.run_parallel(*pipeline.history_steps(verdict.members))
        if reminders is not None:
            await reminders

    @staticmethod
    async def _stop_reminders(pipeline: Pipeline) -> None:
        """A cancelled invoice submission sends no reminders either."""
        doc = pipeline.inp.document
        assert isinstance(doc, SalesInvoice)
        if pipeline.verdict is not None and pipeline.verdict.accepted and doc.docstatus != 2 and not doc.is_return:
            await stop_reminders(pipeline.inp.site, doc.name)

    @staticmethod
    async def _reminders(inp: SubmissionInput, doc: SalesInvoice, verdict: Verdict) -> None:
        if doc.docstatus == 2:
            await touch_reminders(inp.site, [doc.name], "cancelled")
        elif doc.is_return and doc.return_against:
            await touch_reminders(inp.site, [doc.return_against], "credit_note")
        else:
            await start_reminders(inp, verdict)
