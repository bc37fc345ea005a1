"""Mandate usages and sequence state (docs/business-rules.md §4). Idempotent: a usage is keyed by (mandate,
invoice, payment)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, and_, bindparam, func, select
from sqlalchemy.dialects.postgresql import insert

from domain.errors import BusinessRuleViolation
from domain.sepa import sequence_type_for, state_after_collection, usage_problem
from domain.sepa_returns import DEFAULT_OFFSETS, ReturnDecision, decide
from domain.validation import MandateState
from ledger.documents import outstanding_of_invoice, owes
from ledger.schema import collection_retries, invoices, mandate_usages, mandates, members, payment_allocations


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


# A new collection of an invoice is the retry the ERP was asked for.
_RETRY_COLLECTED = (
    collection_retries.update()
    .where(
        collection_retries.c.site == bindparam("r_site"),
        collection_retries.c.invoice == bindparam("r_invoice"),
        collection_retries.c.status == "scheduled",
    )
    .values(status="collected", updated_at=func.now())
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
        conn.execute(_RETRY_COLLECTED, {"r_site": site, "r_invoice": alloc.reference_name})
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


@dataclass(frozen=True)
class ReturnedCollection:
    invoice: str
    mandate_id: str | None
    decision: ReturnDecision


# The collection a return answers: the invoice's newest Collected usage, one of the returned amount first.
_MATCHING_USAGE = (
    select(mandate_usages.c.id, mandate_usages.c.mandate_id)
    .where(
        mandate_usages.c.site == bindparam("site"),
        mandate_usages.c.invoice == bindparam("invoice"),
        mandate_usages.c.status == "Collected",
    )
    .order_by(
        (mandate_usages.c.amount == bindparam("amount")).desc(),
        mandate_usages.c.collection_date.desc(),
        mandate_usages.c.id.desc(),
    )
    .limit(1)
    .with_for_update()
)
_EARLIER_DECISION = select(collection_retries).where(
    collection_retries.c.site == bindparam("site"),
    collection_retries.c.return_payment == bindparam("payment"),
    collection_retries.c.invoice == bindparam("invoice"),
)
_EARLIER_RETRIES = select(func.count()).where(
    collection_retries.c.site == bindparam("site"),
    collection_retries.c.invoice == bindparam("invoice"),
    collection_retries.c.decision == "retry",
    collection_retries.c.status != "cancelled",
    collection_retries.c.return_payment != bindparam("payment"),
)


def record_return(
    conn: Connection, site: str, payment: Row, offsets: Sequence[int] = DEFAULT_OFFSETS
) -> list[ReturnedCollection]:
    """Mark the collection each returned invoice came from Returned (with the R-code) and decide what follows:
    a retry collection due on a business day, stop, manual handling, or escalation. Idempotent: a decision is
    keyed by (return payment, invoice), and a re-run returns the one recorded."""
    reason = payment.return_reason
    if not reason:
        raise BusinessRuleViolation("missing_return_reason", "a SEPA return needs its reason code (e.g. AM04)")
    outcomes = []
    for alloc in conn.execute(_ALLOCATIONS, {"site": site, "payment": payment.name}).all():
        keys = {"site": site, "payment": payment.name, "invoice": alloc.reference_name}
        earlier = conn.execute(_EARLIER_DECISION, keys).first()
        if earlier is not None:
            decision = ReturnDecision(earlier.decision, earlier.reason_code, earlier.attempt, earlier.due_date)
            outcomes.append(ReturnedCollection(alloc.reference_name, earlier.mandate_id, decision))
            continue
        usage = conn.execute(
            _MATCHING_USAGE, {"site": site, "invoice": alloc.reference_name, "amount": alloc.allocated_amount}
        ).first()
        if usage is not None:
            conn.execute(
                mandate_usages.update()
                .where(mandate_usages.c.id == usage.id)
                .values(status="Returned", return_reason=reason, returned_by=payment.name, updated_at=func.now())
            )
        retries = conn.execute(_EARLIER_RETRIES, keys).scalar_one()
        decision = decide(reason, payment.posting_date, retries, offsets)
        conn.execute(
            insert(collection_retries).values(
                site=site,
                return_payment=payment.name,
                invoice=alloc.reference_name,
                mandate_id=usage.mandate_id if usage else None,
                reason_code=decision.reason_code,
                decision=decision.decision,
                attempt=decision.attempt,
                due_date=decision.due_date,
                status="scheduled" if decision.decision == "retry" else "open",
            )
        )
        outcomes.append(ReturnedCollection(alloc.reference_name, usage.mandate_id if usage else None, decision))
    return outcomes


def cancel_return(conn: Connection, site: str, payment: Row) -> int:
    """The ERP cancelled a return: its collections count as Collected again and its decisions are withdrawn."""
    restored = conn.execute(
        mandate_usages.update()
        .where(mandate_usages.c.site == site, mandate_usages.c.returned_by == payment.name)
        .values(status="Collected", return_reason=None, returned_by=None, updated_at=func.now())
    ).rowcount
    conn.execute(
        collection_retries.update()
        .where(
            collection_retries.c.site == site,
            collection_retries.c.return_payment == payment.name,
            collection_retries.c.status != "cancelled",
        )
        .values(status="cancelled", updated_at=func.now())
    )
    return restored


def due_collection_retries(conn: Connection, site: str, on_date: dt.date) -> list[dict[str, Any]]:
    """Retry collections the ERP should present on ``on_date``: scheduled, due by then, not yet collected again,
    and for an invoice that still owes money."""
    outstanding = outstanding_of_invoice().label("outstanding")
    inner = (
        select(
            collection_retries.c.invoice,
            collection_retries.c.mandate_id,
            collection_retries.c.attempt,
            collection_retries.c.due_date,
            collection_retries.c.reason_code,
            collection_retries.c.return_payment,
            invoices.c.customer,
            invoices.c.member,
            outstanding,
        )
        .join(
            invoices,
            and_(invoices.c.site == collection_retries.c.site, invoices.c.name == collection_retries.c.invoice),
        )
        .where(
            collection_retries.c.site == site,
            collection_retries.c.status == "scheduled",
            collection_retries.c.due_date <= on_date,
            invoices.c.docstatus == 1,
        )
        .subquery()
    )
    rows = conn.execute(select(inner).where(owes(inner.c.outstanding)).order_by(inner.c.due_date, inner.c.invoice))
    return [dict(r._mapping) for r in rows]


def returns_needing_attention(conn: Connection, site: str) -> list[dict[str, Any]]:
    """Returns a person must look at: MD06 and unknown codes (manual), final codes (stop), exhausted retries."""
    rows = conn.execute(
        select(collection_retries)
        .where(
            collection_retries.c.site == site,
            collection_retries.c.decision.in_(["manual", "stop", "escalate"]),
            collection_retries.c.status == "open",
        )
        .order_by(collection_retries.c.decided_at, collection_retries.c.invoice)
    ).mappings()
    return [dict(r) for r in rows]
