"""Step 3: record the SEPA collection (or return) against the member's mandate, and decide what follows a return."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, Engine
from temporalio import activity

from activities.step import append_traced, audit_step_completed, failures_as_application_errors
from domain import audit_keys
from domain.messages import StepInput, StepResult
from domain.sepa_returns import DEFAULT_OFFSETS
from ledger import audit
from ledger.documents import lock_payment
from ledger.sepa import ReturnedCollection, cancel_return, cancel_usages, record_collection, record_return

STEP = "sepa"
RETURN = "SEPA Direct Debit Return"


class SepaActivities:
    def __init__(self, engine: Engine, retry_offsets_days: Sequence[int] = DEFAULT_OFFSETS) -> None:
        self._engine = engine
        self._offsets = tuple(retry_offsets_days)

    @activity.defn
    @failures_as_application_errors
    def update_mandate(self, inp: StepInput) -> StepResult:
        with self._engine.begin() as conn:
            payment = lock_payment(conn, inp.site, inp.name)
            if payment.docstatus == 2 and payment.mode_of_payment == RETURN:
                restored = cancel_return(conn, inp.site, payment)
                detail, changed = f"return withdrawn, {restored} usages collected again", restored > 0
            elif payment.docstatus == 2:
                cancelled = cancel_usages(conn, inp.site, payment)
                detail, changed = f"{cancelled} usages cancelled", cancelled > 0
            elif payment.mode_of_payment == RETURN:
                returned = record_return(conn, inp.site, payment, self._offsets)
                for outcome in returned:
                    _audit_decision(conn, inp, outcome)
                detail = "; ".join(f"{r.invoice}: {r.decision.decision}" for r in returned) or "nothing returned"
                changed = bool(returned)
            else:
                outcome = record_collection(conn, inp.site, payment)
                detail = f"{outcome.usages_created} usages collected, {outcome.usages_existing} already recorded"
                changed = outcome.usages_created > 0
            audit_step_completed(conn, STEP, inp, detail)
        return StepResult(step=STEP, attempt=activity.info().attempt, changed=changed, detail=detail)


def _audit_decision(conn: Connection, inp: StepInput, returned: ReturnedCollection) -> None:
    """Each return decision is audited once, on the return payment's trail."""
    d = returned.decision
    append_traced(
        conn,
        audit.AuditEntry(
            actor=inp.actor,
            site=inp.site,
            doctype=inp.doctype,
            name=inp.name,
            event="sepa_return_decision",
            step=STEP,
            severity=d.severity,
            outcome=d.decision,
            details={
                "invoice": returned.invoice,
                "mandate": returned.mandate_id,
                "reason_code": d.reason_code,
                "attempt": d.attempt,
                "due_date": d.due_date.isoformat() if d.due_date else None,
            },
            dedupe_key=audit_keys.document_event(inp.site, inp.doctype, inp.name, "return-decision", returned.invoice),
        ),
    )
