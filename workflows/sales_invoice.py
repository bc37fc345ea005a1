"""SalesInvoiceWorkflow: verdict first (step 1), then every affected member's history in the background."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain.messages import PipelineResult, SubmissionInput
    from workflows.pipeline import Pipeline, PipelineWorkflow


@workflow.defn
class SalesInvoiceWorkflow(PipelineWorkflow):
    @workflow.run
    async def run(self, inp: SubmissionInput) -> PipelineResult:
        pipeline = self._pipeline = Pipeline(inp)
        verdict = await pipeline.validate()
        if not (verdict.accepted and verdict.runs_pipeline):
            return pipeline.result()
        await pipeline.run_parallel(*pipeline.history_steps(verdict.members))
        # Reminders (domain.md §6) come here: a durable timer to due date + grace, then the dunning levels,
        # ended early by a settling payment's signal. See issue 3.
        return pipeline.result()
