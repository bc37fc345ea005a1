"""The analytics step: the payment's analytics fact, written once whatever the number of attempts (and reversed
once the payment is cancelled)."""

from __future__ import annotations

from sqlalchemy import Connection, Engine
from temporalio import activity

from activities.step import audit_step_completed, locked_payment
from domain.analytics import fact_amount, fact_mode, in_rolled_up_month
from domain.messages import StepInput, StepResult
from ledger import analytics as ledger
from ledger.upkeep import rolled_up_before, withdraw_from_summary

STEP = "analytics"


class AnalyticsActivities:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @activity.defn
    def record_payment_facts(self, inp: StepInput) -> StepResult:
        with self._engine.begin() as conn:
            detail = _sync_fact(conn, inp.site, inp.name)
            audit_step_completed(conn, STEP, inp, detail)
        return StepResult(step=STEP, attempt=activity.info().attempt, changed="already" not in detail, detail=detail)


def _sync_fact(conn: Connection, site: str, name: str) -> str:
    """Make the payment's fact match its ledger state: present while submitted, gone once cancelled.

    The payment row is locked, so a late "record" from the submission's pipeline and the cancellation's
    "reverse" serialise, and whichever runs last sees the final state: the result is order-independent.
    """
    p = locked_payment(conn, site, name)
    amount = fact_amount(p.payment_type, p.paid_amount)
    mode = fact_mode(p.mode_of_payment)
    if p.docstatus == 2:
        if ledger.delete_fact(conn, site, name):
            return "fact reversed"
        before = rolled_up_before(conn, site)
        if in_rolled_up_month(p.posting_date, before) and ledger.first_withdrawal(conn, site, name):
            withdraw_from_summary(conn, site, p.posting_date, mode, p.party, amount)
            return "fact reversed from its monthly summary"
        return "fact already reversed"
    recorded = ledger.insert_fact(conn, site, p.name, p.posting_date, mode, p.party, amount)
    return "fact recorded" if recorded else "fact already recorded"
