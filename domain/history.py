"""The member payment history projection and the member summary (docs/business-rules.md §3): rebuilt from ledger
facts, never patched."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from domain.balances import outstanding_of, owes, signed_amount
from domain.mandates import MandateState, usable_count

HISTORY_LIMIT = 20

PaymentStatus = Literal["Draft", "Cancelled", "Paid", "Overdue", "Partially Paid", "Unpaid"]


@dataclass(frozen=True)
class Allocation:
    """One submitted, non-cancelled payment's allocation to an invoice (negative for money paid back)."""

    payment: str
    posting_date: dt.date
    mode_of_payment: str | None
    amount: Decimal


@dataclass(frozen=True)
class InvoiceFacts:
    name: str
    posting_date: dt.date
    due_date: dt.date | None
    docstatus: int
    grand_total: Decimal
    membership: str | None
    coverage_start: dt.date | None
    coverage_end: dt.date | None
    allocations: tuple[Allocation, ...] = ()
    credited: Decimal = Decimal("0.00")  # Σ of submitted returns against it, as a positive amount
    collected_by_mandate: str | None = None  # mandate id of a Collected SEPA usage, if any


@dataclass(frozen=True)
class UnreconciledPayment:
    name: str
    posting_date: dt.date
    mode_of_payment: str | None
    amount: Decimal
    reference_no: str | None


class HistoryRow(BaseModel):
    model_config = ConfigDict(frozen=True)

    position: int
    transaction_type: str
    invoice: str | None
    posting_date: dt.date
    due_date: dt.date | None
    coverage_start: dt.date | None
    coverage_end: dt.date | None
    amount: Decimal
    outstanding_amount: Decimal
    paid_amount: Decimal
    payment_status: PaymentStatus
    payment_entry: str | None
    payment_date: dt.date | None
    payment_method: str | None
    reconciled: bool
    has_mandate: bool
    mandate_reference: str | None


def payment_status(
    *,
    docstatus: int,
    outstanding: Decimal,
    paid: Decimal,
    total: Decimal,
    due_date: dt.date | None,
    today: dt.date,
) -> PaymentStatus:
    """First match wins, in the order docs/business-rules.md §3 gives."""
    if docstatus == 0:
        return "Draft"
    if docstatus == 2:
        return "Cancelled"
    if not owes(outstanding):
        return "Paid"
    if due_date is not None and due_date < today:
        return "Overdue"
    if 0 < paid < total:
        return "Partially Paid"
    return "Unpaid"


def _invoice_row(facts: InvoiceFacts, today: dt.date) -> HistoryRow:
    paid = sum((a.amount for a in facts.allocations), Decimal("0.00"))
    outstanding = outstanding_of(facts.grand_total, paid, facts.credited)
    latest = max(facts.allocations, key=lambda a: (a.posting_date, a.payment), default=None)
    coverage_ok = not (facts.coverage_start and facts.coverage_end and facts.coverage_start > facts.coverage_end)
    return HistoryRow(
        position=0,
        transaction_type="Membership Invoice" if facts.membership else "Regular Invoice",
        invoice=facts.name,
        posting_date=facts.posting_date,
        due_date=facts.due_date,
        coverage_start=facts.coverage_start if coverage_ok else None,
        coverage_end=facts.coverage_end if coverage_ok else None,
        amount=facts.grand_total,
        outstanding_amount=outstanding,
        paid_amount=paid,
        payment_status=payment_status(
            docstatus=facts.docstatus,
            outstanding=outstanding,
            paid=paid,
            total=facts.grand_total,
            due_date=facts.due_date,
            today=today,
        ),
        payment_entry=latest.payment if latest else None,
        payment_date=latest.posting_date if latest else None,
        payment_method=latest.mode_of_payment if latest else None,
        reconciled=latest is not None,
        has_mandate=facts.collected_by_mandate is not None,
        mandate_reference=facts.collected_by_mandate,
    )


def _payment_row(payment: UnreconciledPayment, donation_refs: frozenset[str]) -> HistoryRow:
    donation = payment.reference_no is not None and payment.reference_no in donation_refs
    return HistoryRow(
        position=0,
        transaction_type="Donation Payment" if donation else "Unreconciled Payment",
        invoice=None,
        posting_date=payment.posting_date,
        due_date=None,
        coverage_start=None,
        coverage_end=None,
        amount=payment.amount,
        outstanding_amount=Decimal("0.00"),
        paid_amount=payment.amount,
        payment_status="Paid",
        payment_entry=payment.name,
        payment_date=payment.posting_date,
        payment_method=payment.mode_of_payment,
        reconciled=False,
        has_mandate=False,
        mandate_reference=None,
    )


def project_history(
    invoices: list[InvoiceFacts],
    unreconciled: list[UnreconciledPayment],
    *,
    today: dt.date,
    donation_refs: frozenset[str] = frozenset(),
) -> list[HistoryRow]:
    """The canonical projection: 20 newest invoices plus unreconciled payments, newest first."""
    newest = sorted(invoices, key=lambda f: (f.posting_date, f.name), reverse=True)[:HISTORY_LIMIT]
    rows = [_invoice_row(f, today) for f in newest] + [_payment_row(p, donation_refs) for p in unreconciled]
    rows.sort(key=lambda r: (r.posting_date, r.invoice or r.payment_entry or ""), reverse=True)
    return [row.model_copy(update={"position": i}) for i, row in enumerate(rows)]


HISTORY_FIELDS: tuple[str, ...] = tuple(HistoryRow.model_fields)


def as_tuple(row: HistoryRow) -> tuple[object, ...]:
    """Field values in declaration order, which is the ledger's column order."""
    return tuple(row.__dict__[f] for f in HISTORY_FIELDS)


@dataclass(frozen=True)
class SummaryInvoice:
    """A submitted invoice (not a credit note) of the member's customer, with the ledger's sums against it."""

    posting_date: dt.date
    grand_total: Decimal
    paid: Decimal
    credited: Decimal


@dataclass(frozen=True)
class SummaryPayment:
    """A submitted payment of the member's customer: received (Receive) or paid back (Pay)."""

    payment_type: str
    posting_date: dt.date
    paid_amount: Decimal


@dataclass(frozen=True)
class SummaryFacts:
    member: str
    invoices: tuple[SummaryInvoice, ...] = ()
    payments: tuple[SummaryPayment, ...] = ()
    mandates: tuple[MandateState, ...] = ()  # the member's own


def summarise(facts: SummaryFacts, *, today: dt.date) -> dict[str, Any]:
    """The member summary: each figure from its own facts, so nothing multiplies a sum (bug B14)."""
    outstanding = [outstanding_of(i.grand_total, i.paid, i.credited) for i in facts.invoices]
    owed = [amount for amount in outstanding if owes(amount)]
    received = [p.posting_date for p in facts.payments if p.payment_type == "Receive"]
    return {
        "member": facts.member,
        "total_invoices": len(facts.invoices),
        "unpaid_invoices": len(owed),
        "total_invoiced": sum((i.grand_total for i in facts.invoices), Decimal(0)),
        "total_outstanding": sum(owed, Decimal(0)),
        "total_paid": sum((signed_amount(p.payment_type, p.paid_amount) for p in facts.payments), Decimal(0)),
        "last_payment_date": max(received, default=None),
        "last_invoice_date": max((i.posting_date for i in facts.invoices), default=None),
        "active_mandates": usable_count(facts.mandates, today),
    }
