"""Step 4: the payment's analytics fact, written once whatever the number of attempts (and reversed once the
payment is cancelled)."""

from __future__ import annotations

from sqlalchemy import Engine
from temporalio import activity

from activities.step import audit_step_completed, failures_as_application_errors
from domain.messages import StepInput, StepResult
from ledger.analytics import sync_fact

STEP = "analytics"


class AnalyticsActivities:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @activity.defn
    @failures_as_application_errors
    def record_payment_facts(self, inp: StepInput) -> StepResult:
        with self._engine.begin() as conn:
            detail = sync_fact(conn, inp.site, inp.name)
            audit_step_completed(conn, STEP, inp, detail)
        return StepResult(step=STEP, attempt=activity.info().attempt, changed="already" not in detail, detail=detail)
