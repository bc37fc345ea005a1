"""Step 3: record the SEPA collection (or return) against the member's mandate."""

from __future__ import annotations

from sqlalchemy import Engine
from temporalio import activity

from activities.step import audit_step_completed, failures_as_application_errors
from domain.messages import StepInput, StepResult
from ledger.documents import lock_payment
from ledger.sepa import cancel_usages, record_collection, record_return

STEP = "sepa"


class SepaActivities:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @activity.defn
    @failures_as_application_errors
    def update_mandate(self, inp: StepInput) -> StepResult:
        with self._engine.begin() as conn:
            payment = lock_payment(conn, inp.site, inp.name)
            if payment.docstatus == 2:
                cancelled = cancel_usages(conn, inp.site, payment)
                detail, changed = f"{cancelled} usages cancelled", cancelled > 0
            elif payment.mode_of_payment == "SEPA Direct Debit Return":
                returned = record_return(conn, inp.site, payment)
                detail, changed = f"{returned} usages returned", returned > 0
            else:
                outcome = record_collection(conn, inp.site, payment)
                detail = f"{outcome.usages_created} usages collected, {outcome.usages_existing} already recorded"
                changed = outcome.usages_created > 0
            audit_step_completed(conn, STEP, inp, detail)
        return StepResult(step=STEP, attempt=activity.info().attempt, changed=changed, detail=detail)
