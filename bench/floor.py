"""FloorWorkflow: PaymentEntryWorkflow's shape with steps that do nothing — the engine's floor.

Same shape as duesflow's payment pipeline: the ``verdict`` update (Update-With-Start target) is answered after a
local activity in the first workflow task; then, for a SEPA payment, one "sepa" activity; then one "history" activity
per member of the customer and one "analytics" activity in parallel, then a "notify" activity, all for the
background role with the same options (timeouts, retry policies, priorities, summaries). What it leaves out is
duesflow's own work: the ledger, the search-attribute upserts and the progress bookkeeping.

Deterministic and free of entry code.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import Priority

with workflow.unsafe.imports_passed_through():
    from bench.floor_support import (
        FloorInput,
        floor_analytics,
        floor_history,
        floor_notify,
        floor_sepa,
        floor_validate,
    )
    from domain.contracts import PaymentEntry
    from domain.messages import PipelineResult, StepInput, StepProgress, StepResult
    from domain.priorities import BOOKKEEPING_BUDGET, BOOKKEEPING_LEVEL, STEP_BUDGETS, VERDICT_BUDGET, Level
    from domain.verdicts import Verdict
    from workflows.retries import retry_policy


# Unsandboxed like duesflow's pipelines, so the comparison stays like for like.
@workflow.defn(sandboxed=False)
class FloorWorkflow:
    def __init__(self) -> None:
        self._verdict: Verdict | None = None

    @workflow.run
    async def run(self, inp: FloorInput) -> PipelineResult:
        sub = inp.submission
        self._verdict = await workflow.execute_local_activity(
            floor_validate,
            inp,
            start_to_close_timeout=timedelta(seconds=10),
            schedule_to_close_timeout=timedelta(hours=24),
            retry_policy=retry_policy(VERDICT_BUDGET),
        )
        doc = sub.document

        def step_input(member: str | None = None) -> StepInput:
            return StepInput(site=sub.site, actor=sub.user, doctype=doc.doctype, name=doc.name, member=member)

        async def step(name: str, fn: object, arg: StepInput, level: Level, summary: str) -> StepResult:
            return await workflow.execute_activity(
                fn,  # type: ignore[call-overload]
                arg,
                activity_id=name,
                start_to_close_timeout=timedelta(seconds=60),
                retry_policy=retry_policy(STEP_BUDGETS.get(level, BOOKKEEPING_BUDGET)),
                priority=Priority(priority_key=int(level)),
                summary=summary,
            )

        results: list[StepResult] = []
        if isinstance(doc, PaymentEntry) and doc.is_sepa:
            results.append(await step("sepa", floor_sepa, step_input(), Level.CRITICAL, "SEPA mandate usage"))
        parallel = [
            step(f"history:{m}", floor_history, step_input(m), Level.NORMAL, f"rebuild history of {m}")
            for m in self._verdict.members
        ]
        parallel.append(step("analytics", floor_analytics, step_input(), Level.LOW, "payment analytics"))
        results += await asyncio.gather(*parallel)
        # duesflow's pipelines end by notifying the submitter (docs/business-rules.md §8): one more activity, at HIGH.
        await step("notify", floor_notify, step_input(), BOOKKEEPING_LEVEL, "notify submitter: completed")
        steps = [StepProgress(name=r.step, status="done", attempts=r.attempt, detail=r.detail) for r in results]
        return PipelineResult(verdict=self._verdict, steps=steps)

    @workflow.update
    async def verdict(self) -> Verdict:
        """Answers as soon as the no-op step 1 has returned, like duesflow's ``verdict`` update."""
        await workflow.wait_condition(lambda: self._verdict is not None)
        assert self._verdict is not None
        return self._verdict
