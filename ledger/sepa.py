"""Mandate usages and sequence state (domain.md §4). Idempotent: a usage is keyed by (mandate, invoice, payment)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, Row, func, select
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


def _mandate_for(conn: Connection, site: str, customer: str, invoice_member: str | None) -> Row | None:
    """The invoice's own member's mandate first, else any mandate of the customer's members; locked for update."""
    customer_members = select(members.c.name).where(members.c.site == site, members.c.customer == customer)
    rows = conn.execute(
        select(mandates)
        .where(mandates.c.site == site, mandates.c.member.in_(customer_members))
        .order_by((mandates.c.status == "Active").desc(), mandates.c.sign_date.desc(), mandates.c.mandate_id)
        .with_for_update()
    ).all()
    own = [r for r in rows if r.member == invoice_member]
    return (own or rows or [None])[0]


def record_collection(conn: Connection, site: str, payment: Row) -> CollectionOutcome:
    """Upsert a Collected usage per allocated invoice; the first one moves the mandate FRST → RCUR."""
    payment_name = payment.name
    allocs = conn.execute(
        select(payment_allocations.c.reference_name, payment_allocations.c.allocated_amount, invoices.c.member)
        .join(
            invoices,
            (invoices.c.site == payment_allocations.c.site) & (invoices.c.name == payment_allocations.c.reference_name),
        )
        .where(
            payment_allocations.c.site == site,
            payment_allocations.c.payment == payment_name,
            payment_allocations.c.reference_doctype == "Sales Invoice",
        )
        .order_by(payment_allocations.c.idx)
    ).all()
    created = existing = 0
    for alloc in allocs:
        mandate = _mandate_for(conn, site, payment.party, alloc.member)
        state = (
            MandateState(mandate.mandate_id, mandate.member, mandate.status, mandate.expiry_date) if mandate else None
        )
        problem = usage_problem(
            state,
            amount=alloc.allocated_amount,
            maximum=mandate.maximum_amount if mandate else None,
            day=payment.posting_date,
            sequence_state=mandate.sequence_state if mandate else "FRST",
        )
        if problem:
            raise BusinessRuleViolation(*problem)
        sequence_type = sequence_type_for(mandate.sequence_state)
        inserted = conn.execute(
            insert(mandate_usages)
            .values(
                site=site,
                mandate_id=mandate.mandate_id,
                invoice=alloc.reference_name,
                payment_entry=payment_name,
                amount=alloc.allocated_amount,
                sequence_type=sequence_type,
                status="Collected",
                collection_date=payment.posting_date,
                batch_reference=payment.sepa_batch or payment.reference_no,
            )
            .on_conflict_do_nothing(index_elements=["site", "mandate_id", "invoice", "payment_entry"])
            .returning(mandate_usages.c.id)
        ).first()
        if inserted is None:
            existing += 1
            continue
        created += 1
        conn.execute(
            mandates.update()
            .where(mandates.c.site == site, mandates.c.mandate_id == mandate.mandate_id)
            .values(
                sequence_state=state_after_collection(mandate.sequence_state, sequence_type),
                last_collection_date=func.greatest(
                    func.coalesce(mandates.c.last_collection_date, payment.posting_date), payment.posting_date
                ),
                updated_at=func.now(),
            )
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
