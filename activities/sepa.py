"""The SEPA step (first of a payment's background steps): record the SEPA collection (or return) against the
member's mandate, and decide what follows a return.

The rules of ``domain/sepa.py`` and ``domain/sepa_returns.py`` choose the mandate a collection uses, the collection a
return answers and what follows it; ``ledger/sepa.py`` reads the candidates and writes what was decided, all in
this step's transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import Connection, Engine, Row
from temporalio import activity

from activities.step import append_traced, audit_step_completed, locked_payment
from domain import audit_keys
from domain.errors import BusinessRuleViolation
from domain.messages import StepInput, StepResult
from domain.sepa import (
    batch_reference,
    mandate_for_collection,
    sequence_type_for,
    state_after_collection,
    usage_problem,
)
from domain.sepa_returns import (
    DEFAULT_OFFSETS,
    CollectedUsage,
    ReturnDecision,
    ReturnedCollection,
    answered_collection,
    decide,
    is_sepa_return,
    return_problem,
)
from ledger import audit
from ledger import sepa as ledger

STEP = "sepa"


@dataclass(frozen=True)
class CollectionOutcome:
    usages_created: int
    usages_existing: int


class SepaActivities:
    def __init__(self, engine: Engine, retry_offsets_days: Sequence[int] = DEFAULT_OFFSETS) -> None:
        self._engine = engine
        self._offsets = tuple(retry_offsets_days)

    @activity.defn
    def update_mandate(self, inp: StepInput) -> StepResult:
        with self._engine.begin() as conn:
            payment = locked_payment(conn, inp.site, inp.name)
            is_return = is_sepa_return(payment.mode_of_payment, payment.party_type)
            if payment.docstatus == 2 and is_return:
                restored = ledger.cancel_return(conn, inp.site, payment)
                detail, changed = f"return withdrawn, {restored} usages collected again", restored > 0
            elif payment.docstatus == 2:
                cancelled = ledger.cancel_usages(conn, inp.site, payment)
                detail, changed = f"{cancelled} usages cancelled", cancelled > 0
            elif is_return:
                returned = _record_return(conn, inp.site, payment, self._offsets)
                for outcome in returned:
                    _audit_decision(conn, inp, outcome)
                detail = "; ".join(f"{r.invoice}: {r.decision.decision}" for r in returned) or "nothing returned"
                changed = bool(returned)
            else:
                outcome = _record_collection(conn, inp.site, payment)
                detail = f"{outcome.usages_created} usages collected, {outcome.usages_existing} already recorded"
                changed = outcome.usages_created > 0
            audit_step_completed(conn, STEP, inp, detail)
        return StepResult(step=STEP, attempt=activity.info().attempt, changed=changed, detail=detail)


def _record_collection(conn: Connection, site: str, payment: Row) -> CollectionOutcome:
    """A Collected usage per allocated invoice, on the mandate ``domain.sepa`` chooses; the first one moves the
    mandate FRST → RCUR."""
    allocations = ledger.invoice_allocations(conn, site, payment.name)
    if not allocations:
        return CollectionOutcome(0, 0)
    candidates = ledger.lock_customer_mandates(conn, site, payment.party)
    states = {m.mandate_id: m.sequence_state for m in candidates}  # as this payment's collections move them
    created = existing = 0
    for alloc in allocations:
        mandate = mandate_for_collection(candidates, alloc.member)
        problem = usage_problem(
            mandate.state if mandate else None,
            amount=alloc.allocated_amount,
            maximum=mandate.maximum_amount if mandate else None,
            day=payment.posting_date,
            sequence_state=states[mandate.mandate_id] if mandate else "FRST",
        )
        if problem:
            raise BusinessRuleViolation(*problem)
        assert mandate is not None  # usage_problem refuses a collection without one
        sequence_type = sequence_type_for(states[mandate.mandate_id])
        if not ledger.insert_collected_usage(
            conn,
            site,
            mandate_id=mandate.mandate_id,
            invoice=alloc.reference_name,
            payment=payment.name,
            amount=alloc.allocated_amount,
            sequence_type=sequence_type,
            collection_date=payment.posting_date,
            batch_reference=batch_reference(payment.sepa_batch, payment.reference_no),
        ):
            existing += 1
            continue
        created += 1
        # A new collection of an invoice is the retry the ERP was asked for.
        ledger.mark_retry_collected(conn, site, alloc.reference_name)
        states[mandate.mandate_id] = state_after_collection(states[mandate.mandate_id], sequence_type)
        ledger.record_after_collection(conn, site, mandate.mandate_id, states[mandate.mandate_id], payment.posting_date)
    return CollectionOutcome(created, existing)


def _answered_collection(conn: Connection, site: str, invoice: str, amount: Decimal) -> CollectedUsage | None:
    """The collection a return of ``amount`` answers (``domain.sepa_returns.answered_collection``), locked. One that
    a concurrent return marked first is passed over for the next best, as the choice would be made now."""
    while True:
        usage = answered_collection(ledger.collected_usages(conn, site, invoice), amount)
        if usage is None or ledger.lock_collected_usage(conn, usage.id):
            return usage


def _record_return(conn: Connection, site: str, payment: Row, offsets: Sequence[int]) -> list[ReturnedCollection]:
    """Mark the collection each returned invoice came from Returned (with the R-code) and decide what follows:
    a retry collection due on a business day, stop, manual handling, or escalation. Idempotent: a decision is
    keyed by (return payment, invoice), and a re-run returns the one recorded."""
    reason = payment.return_reason
    problem = return_problem(reason)
    if problem:
        raise BusinessRuleViolation(*problem)
    outcomes = []
    for alloc in ledger.invoice_allocations(conn, site, payment.name):
        invoice = alloc.reference_name
        earlier = ledger.recorded_decision(conn, site, payment.name, invoice)
        if earlier is not None:
            decision = ReturnDecision(earlier.decision, earlier.reason_code, earlier.attempt, earlier.due_date)
            outcomes.append(ReturnedCollection(invoice, earlier.mandate_id, decision))
            continue
        usage = _answered_collection(conn, site, invoice, alloc.allocated_amount)
        if usage is not None:
            ledger.mark_returned(conn, usage.id, reason, payment.name)
        retries = ledger.earlier_retries(conn, site, payment.name, invoice)
        decision = decide(reason, payment.posting_date, retries, offsets)
        mandate_id = usage.mandate_id if usage else None
        ledger.record_decision(conn, site, payment.name, invoice, mandate_id, decision)
        outcomes.append(ReturnedCollection(invoice, mandate_id, decision))
    return outcomes


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
