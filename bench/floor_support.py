"""What the engine-floor workflow exchanges, and its no-op activities.

Kept out of ``bench.floor`` so the workflow sandbox passes these through instead of re-creating the pydantic models
for every workflow run (duesflow's own models are passed through the same way). The activities are synchronous and
run in a thread pool, like duesflow's, so the floor pays the same dispatch costs and only the steps' work is missing.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from temporalio import activity

from domain.messages import StepInput, StepResult, SubmissionInput
from domain.verdicts import Verdict


class FloorInput(BaseModel):
    """The same submission duesflow gets, plus what step 1 would have found in the ledger (the members)."""

    model_config = ConfigDict(frozen=True)

    submission: SubmissionInput
    members: list[str]


@activity.defn(name="FloorValidate")
def floor_validate(inp: FloorInput) -> Verdict:
    """Step 1 without the ledger: accept, and name the members whose history a real run would rebuild."""
    return Verdict(status="accepted", members=list(inp.members), workflow_id=activity.info().workflow_id)


def _noop(step: str, inp: StepInput) -> StepResult:
    return StepResult(step=step, attempt=activity.info().attempt, changed=False, detail="no-op")


@activity.defn(name="FloorSepa")
def floor_sepa(inp: StepInput) -> StepResult:
    return _noop("sepa", inp)


@activity.defn(name="FloorHistory")
def floor_history(inp: StepInput) -> StepResult:
    return _noop(f"history:{inp.member}", inp)


@activity.defn(name="FloorAnalytics")
def floor_analytics(inp: StepInput) -> StepResult:
    return _noop("analytics", inp)


@activity.defn(name="FloorNotify")
def floor_notify(inp: StepInput) -> StepResult:
    return _noop("notify", inp)


BACKGROUND_ACTIVITIES = [floor_sepa, floor_history, floor_analytics, floor_notify]
