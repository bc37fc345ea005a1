"""UpkeepWorkflow: one run of a daily upkeep job, started by its Temporal Schedule (or by hand, for a missed day)."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import Priority

with workflow.unsafe.imports_passed_through():
    from activities.upkeep import UpkeepActivities
    from domain.priorities import STEP_BUDGETS, Level
    from domain.upkeep import UpkeepInput, UpkeepReport
    from workflows.retries import retry_policy

ACTIVITIES = {
    "mandate-lifecycle": UpkeepActivities.run_mandate_lifecycle,
    "analytics-rollup": UpkeepActivities.roll_up_analytics,
    "audit-retention": UpkeepActivities.apply_audit_retention,
}


@workflow.defn
class UpkeepWorkflow:
    @workflow.run
    async def run(self, inp: UpkeepInput) -> UpkeepReport:
        # The day it was scheduled for, from the workflow's clock: a late start still works on its own day.
        day = inp.on_date or workflow.now().date()
        report = await workflow.execute_activity_method(
            ACTIVITIES[inp.job],
            inp.model_copy(update={"on_date": day}),
            start_to_close_timeout=timedelta(minutes=30),
            heartbeat_timeout=timedelta(minutes=2),
            # Maintenance is LOW (docs/business-rules.md §7); a failed day is caught up by the next, the jobs being
            # idempotent.
            retry_policy=retry_policy(STEP_BUDGETS[Level.LOW]),
            priority=Priority(priority_key=int(Level.LOW)),
            summary=f"{inp.job} for {day}",
        )
        changes = ", ".join(f"{k} {v}" for k, v in report.changed.items()) or "nothing"
        workflow.set_current_details(f"{inp.job} on {day}: {changes}")
        return report
