"""Mandate usages, sequence state and return decisions as rows (docs/business-rules.md §4): the candidates the
rules of ``domain/sepa.py`` and ``domain/sepa_returns.py`` choose from, and the writes ``activities/sepa.py`` asks
for. Idempotent: a usage is keyed by (mandate, invoice, payment), a decision by (return payment, invoice)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Row, and_, bindparam, func, select
from sqlalchemy.dialects.postgresql import insert

from domain.sepa import MandateCandidate, SequenceState
from domain.sepa_returns import ATTENTION_DECISIONS, CollectedUsage, ReturnDecision
from ledger.documents import outstanding_of_invoice, owes
from ledger.schema import collection_retries, invoices, mandate_usages, mandates, members, payment_allocations


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


def invoice_allocations(conn: Connection, site: str, payment: str) -> list[Row]:
    """The payment's allocations to invoices the ledger holds, in row order: ``reference_name``,
    ``allocated_amount`` and the invoice's ``member``."""
    return list(conn.execute(_ALLOCATIONS, {"site": site, "payment": payment}))


# Locked in mandate id order, so concurrent collections on one customer's mandates serialise without deadlocking.
_CUSTOMER_MANDATES = (
    select(
        mandates.c.mandate_id,
        mandates.c.member,
        mandates.c.status,
        mandates.c.expiry_date,
        mandates.c.sign_date,
        mandates.c.maximum_amount,
        mandates.c.sequence_state,
    )
    .where(
        mandates.c.site == bindparam("site"),
        mandates.c.member.in_(
            select(members.c.name).where(
                members.c.site == bindparam("site"), members.c.customer == bindparam("customer")
            )
        ),
    )
    .order_by(mandates.c.mandate_id)
    .with_for_update()
)


def lock_customer_mandates(conn: Connection, site: str, customer: str | None) -> list[MandateCandidate]:
    """Every mandate of the customer's members, locked while the payment's usages are written."""
    return [MandateCandidate(*r) for r in conn.execute(_CUSTOMER_MANDATES, {"site": site, "customer": customer})]


_INSERT_USAGE = (
    insert(mandate_usages)
    .on_conflict_do_nothing(index_elements=["site", "mandate_id", "invoice", "payment_entry"])
    .returning(mandate_usages.c.id)
)


def insert_collected_usage(
    conn: Connection,
    site: str,
    *,
    mandate_id: str,
    invoice: str,
    payment: str,
    amount: Decimal,
    sequence_type: str,
    collection_date: dt.date,
    batch_reference: str | None,
) -> bool:
    """A Collected usage; False when it was already recorded (a re-run), and nothing changed."""
    inserted = conn.execute(
        _INSERT_USAGE,
        {
            "site": site,
            "mandate_id": mandate_id,
            "invoice": invoice,
            "payment_entry": payment,
            "amount": amount,
            "sequence_type": sequence_type,
            "status": "Collected",
            "collection_date": collection_date,
            "batch_reference": batch_reference,
        },
    ).first()
    return inserted is not None


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


def record_after_collection(
    conn: Connection, site: str, mandate_id: str, state: SequenceState, collected_on: dt.date
) -> None:
    """The mandate's new sequence state; its last collection date moves forward (never back)."""
    conn.execute(_AFTER_COLLECTION, {"b_site": site, "b_mandate": mandate_id, "b_state": state, "b_day": collected_on})


_RETRY_COLLECTED = (
    collection_retries.update()
    .where(
        collection_retries.c.site == bindparam("r_site"),
        collection_retries.c.invoice == bindparam("r_invoice"),
        collection_retries.c.status == "scheduled",
    )
    .values(status="collected", updated_at=func.now())
)


def mark_retry_collected(conn: Connection, site: str, invoice: str) -> None:
    """A retry collection scheduled for the invoice was collected."""
    conn.execute(_RETRY_COLLECTED, {"r_site": site, "r_invoice": invoice})


_EARLIER_DECISION = select(collection_retries).where(
    collection_retries.c.site == bindparam("site"),
    collection_retries.c.return_payment == bindparam("payment"),
    collection_retries.c.invoice == bindparam("invoice"),
)


def recorded_decision(conn: Connection, site: str, payment: str, invoice: str) -> Row | None:
    """The decision an earlier run of this return recorded for the invoice, if any."""
    return conn.execute(_EARLIER_DECISION, {"site": site, "payment": payment, "invoice": invoice}).first()


_COLLECTED_USAGES = select(
    mandate_usages.c.id, mandate_usages.c.mandate_id, mandate_usages.c.amount, mandate_usages.c.collection_date
).where(
    mandate_usages.c.site == bindparam("site"),
    mandate_usages.c.invoice == bindparam("invoice"),
    mandate_usages.c.status == "Collected",
)
_LOCK_COLLECTED_USAGE = (
    select(mandate_usages.c.id)
    .where(mandate_usages.c.id == bindparam("id"), mandate_usages.c.status == "Collected")
    .with_for_update()
)


def collected_usages(conn: Connection, site: str, invoice: str) -> list[CollectedUsage]:
    """The invoice's Collected usages (not locked: ``lock_collected_usage`` locks the one chosen)."""
    return [CollectedUsage(*r) for r in conn.execute(_COLLECTED_USAGES, {"site": site, "invoice": invoice})]


def lock_collected_usage(conn: Connection, usage_id: int) -> bool:
    """Lock the usage; False when it is no longer Collected (a concurrent return marked it first)."""
    return conn.execute(_LOCK_COLLECTED_USAGE, {"id": usage_id}).first() is not None


def mark_returned(conn: Connection, usage_id: int, reason: str, returned_by: str) -> None:
    conn.execute(
        mandate_usages.update()
        .where(mandate_usages.c.id == usage_id)
        .values(status="Returned", return_reason=reason, returned_by=returned_by, updated_at=func.now())
    )


_EARLIER_RETRIES = select(func.count()).where(
    collection_retries.c.site == bindparam("site"),
    collection_retries.c.invoice == bindparam("invoice"),
    collection_retries.c.decision == "retry",
    collection_retries.c.status != "cancelled",
    collection_retries.c.return_payment != bindparam("payment"),
)


def earlier_retries(conn: Connection, site: str, payment: str, invoice: str) -> int:
    """Retry collections other returns scheduled for the invoice (withdrawn ones do not count)."""
    return conn.execute(_EARLIER_RETRIES, {"site": site, "payment": payment, "invoice": invoice}).scalar_one()


def record_decision(
    conn: Connection, site: str, payment: str, invoice: str, mandate_id: str | None, decision: ReturnDecision
) -> None:
    conn.execute(
        insert(collection_retries).values(
            site=site,
            return_payment=payment,
            invoice=invoice,
            mandate_id=mandate_id,
            reason_code=decision.reason_code,
            decision=decision.decision,
            attempt=decision.attempt,
            due_date=decision.due_date,
            status=decision.initial_status,
        )
    )


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
            collection_retries.c.decision.in_(ATTENTION_DECISIONS),
            collection_retries.c.status == "open",
        )
        .order_by(collection_retries.c.decided_at, collection_retries.c.invoice)
    ).mappings()
    return [dict(r) for r in rows]
