"""Mandate usages and sequence state (domain.md §4). Idempotent: a usage is keyed by (mandate, invoice, payment)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, Row, bindparam, func, select
from sqlalchemy.dialects.postgresql import insert

from domain.errors import BusinessRuleViolation
from domain.sepa import sequence_type_for, state_after_collection, usage_problem
from domain.validation import MandateState
from ledger.schema import invoices, mandate_usages, mandates, members, payment_allocations


@dataclass(frozen=True)
class CollectionOutcome:
    usages_created: int
    usages_existing: int


def cancel_usages(conn: Connection, site: str, payment: Row) -> int:
    """A cancelled payment's collections are Cancelled. The sequence state is kept: a collection was presented."""
    result = conn.execute(
        mandate_usages.update()
        .where(
            mandate_usages.c.site == site,
            mandate_usages.c.payment_entry == payment.name,
            mandate_usages.c.status != "Cancelled",
        )
        .values(status="Cancelled", updated_at=func.now())
    )
    return result.rowcount


_ALLOCATIONS = (
    select(payment_allocations.c.reference_name, payment_allocations.c.allocated_amount, invoices.c.member)
    .join(
        invoices,
        (invoices.c.site == payment_allocations.c.site) & (invoices.c.name == payment_allocations.c.reference_name),
    )
    .where(
        payment_allocations.c.site == bindparam("site"),
        payment_allocations.c.payment == bindparam("payment"),
        payment_allocations.c.reference_doctype == "Sales Invoice",
    )
    .order_by(payment_allocations.c.idx)
)
# Active first, newest first; locked so concurrent collections on one mandate serialise.
_CUSTOMER_MANDATES = (
    select(mandates)
    .where(
        mandates.c.site == bindparam("site"),
        mandates.c.member.in_(
            select(members.c.name).where(
                members.c.site == bindparam("site"), members.c.customer == bindparam("customer")
            )
        ),
    )
    .order_by((mandates.c.status == "Active").desc(), mandates.c.sign_date.desc(), mandates.c.mandate_id)
    .with_for_update()
)
_INSERT_USAGE = (
    insert(mandate_usages)
    .on_conflict_do_nothing(index_elements=["site", "mandate_id", "invoice", "payment_entry"])
    .returning(mandate_usages.c.id)
)
_AFTER_COLLECTION = (
    mandates.update()
    .where(mandates.c.site == bindparam("b_site"), mandates.c.mandate_id == bindparam("b_mandate"))
    .values(
        sequence_state=bindparam("b_state"),
        last_collection_date=func.greatest(
            func.coalesce(mandates.c.last_collection_date, bindparam("b_day")), bindparam("b_day")
        ),
        updated_at=func.now(),
    )
)


def record_collection(conn: Connection, site: str, payment: Row) -> CollectionOutcome:
    """Upsert a Collected usage per allocated invoice; the first one moves the mandate FRST → RCUR."""
    allocs = conn.execute(_ALLOCATIONS, {"site": site, "payment": payment.name}).all()
    if not allocs:
        return CollectionOutcome(0, 0)
    candidates = conn.execute(_CUSTOMER_MANDATES, {"site": site, "customer": payment.party}).all()
    states = {m.mandate_id: m.sequence_state for m in candidates}  # as this payment's collections move them
    created = existing = 0
    for alloc in allocs:
        # The invoice's own member's mandate first, else any mandate of the customer's members (a family's).
        mandate = next((m for m in candidates if m.member == alloc.member), candidates[0] if candidates else None)
        state = (
            MandateState(mandate.mandate_id, mandate.member, mandate.status, mandate.expiry_date) if mandate else None
        )
        problem = usage_problem(
            state,
            amount=alloc.allocated_amount,
            maximum=mandate.maximum_amount if mandate else None,
            day=payment.posting_date,
            sequence_state=states[mandate.mandate_id] if mandate else "FRST",
        )
        if problem:
            raise BusinessRuleViolation(*problem)
        sequence_type = sequence_type_for(states[mandate.mandate_id])
        inserted = conn.execute(
            _INSERT_USAGE,
            {
                "site": site,
                "mandate_id": mandate.mandate_id,
                "invoice": alloc.reference_name,
                "payment_entry": payment.name,
                "amount": alloc.allocated_amount,
                "sequence_type": sequence_type,
                "status": "Collected",
                "collection_date": payment.posting_date,
                "batch_reference": payment.sepa_batch or payment.reference_no,
            },
        ).first()
        if inserted is None:
            existing += 1
            continue
        created += 1
        states[mandate.mandate_id] = state_after_collection(states[mandate.mandate_id], sequence_type)
        conn.execute(
            _AFTER_COLLECTION,
            {
                "b_site": site,
                "b_mandate": mandate.mandate_id,
                "b_state": states[mandate.mandate_id],
                "b_day": payment.posting_date,
            },
        )
    return CollectionOutcome(created, existing)


def record_return(conn: Connection, site: str, payment: Row) -> int:
    """Mark the Collected usages of the returned invoices Returned with the R-code (retries come in issue 3)."""
    reason = payment.return_reason
    if not reason:
        raise BusinessRuleViolation("missing_return_reason", "a SEPA return needs its reason code (e.g. AM04)")
    returned_invoices = select(payment_allocations.c.reference_name).where(
        payment_allocations.c.site == site, payment_allocations.c.payment == payment.name
    )
    result = conn.execute(
        mandate_usages.update()
        .where(
            mandate_usages.c.site == site,
            mandate_usages.c.invoice.in_(returned_invoices),
            mandate_usages.c.status == "Collected",
        )
        .values(status="Returned", return_reason=reason, updated_at=func.now())
    )
    return result.rowcount
