"""Step 1 rules (docs/business-rules.md §2): pure functions over the document and what the ledger knows about it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from domain.contracts import PaymentEntry, SalesInvoice
from domain.mandates import MandateState
from domain.sepa_returns import SEPA_RETURN_MODE
from domain.verdicts import FieldError

KNOWN_MODES_OF_PAYMENT = frozenset(
    {
        "SEPA Direct Debit",
        SEPA_RETURN_MODE,
        "Bank Transfer",
        "Wire Transfer",
        "Mollie",
        "iDEAL",
        "Cash",
        "Credit Card",
        "Cheque",
        "Other",
    }
)


@dataclass(frozen=True)
class InvoiceBalance:
    """A referenced invoice as the ledger knows it, with its outstanding amount computed from the ledger."""

    name: str
    customer: str
    docstatus: int
    outstanding: Decimal
    member: str | None = None
    # The invoice's reminder flow is running (its dunning case is open).
    reminding: bool = False


@dataclass(frozen=True)
class PaymentContext:
    customer_known: bool
    customer_members: tuple[str, ...] = ()
    invoices: dict[str, InvoiceBalance] = field(default_factory=dict)
    mandates: tuple[MandateState, ...] = ()


@dataclass(frozen=True)
class InvoiceContext:
    customer_known: bool
    return_against_known: bool = True


def _err(field_name: str, code: str, message: str) -> FieldError:
    return FieldError(field=field_name, code=code, message=message)


def validate_payment_entry(doc: PaymentEntry, ctx: PaymentContext) -> list[FieldError]:
    """Rules 1–6 of docs/business-rules.md §2; only member payments (Receive from a Customer) are checked."""
    if doc.is_sepa_return and not doc.is_member_payment:
        # A return (paid out to the member) only has to name a customer the ledger knows.
        if doc.party and ctx.customer_known:
            return []
        return [_err("party", "unknown_customer", f"customer {doc.party!r} is not known to the ledger")]
    if not doc.is_member_payment:
        return []
    errors: list[FieldError] = []
    if not doc.party:
        errors.append(_err("party", "missing", "is required for a payment received from a customer"))
    if doc.paid_amount <= 0:
        errors.append(_err("paid_amount", "not_positive", f"must be greater than 0, got {doc.paid_amount}"))
    if doc.party and not ctx.customer_known:
        errors.append(_err("party", "unknown_customer", f"customer {doc.party!r} is not known to the ledger"))
    if doc.mode_of_payment and doc.mode_of_payment not in KNOWN_MODES_OF_PAYMENT:
        errors.append(
            _err("mode_of_payment", "unknown_mode", f"{doc.mode_of_payment!r} is not a known mode of payment")
        )

    allocated = Decimal(0)
    # Several rows may pay one invoice: together they must stay within its outstanding amount.
    taken: dict[str, Decimal] = {}
    for i, ref in enumerate(doc.references):
        if not (ref.reference_doctype and ref.reference_name):
            continue
        where = f"references.{i}"
        if ref.reference_doctype != "Sales Invoice":
            errors.append(
                _err(
                    f"{where}.reference_doctype",
                    "unknown_reference",
                    f"{ref.reference_doctype} {ref.reference_name!r} is not known to the ledger",
                )
            )
            continue
        invoice = ctx.invoices.get(ref.reference_name)
        if invoice is None:
            errors.append(
                _err(
                    f"{where}.reference_name",
                    "unknown_invoice",
                    f"invoice {ref.reference_name!r} is not known",
                )
            )
            continue
        if invoice.docstatus != 1:
            errors.append(
                _err(
                    f"{where}.reference_name",
                    "invoice_not_submitted",
                    f"invoice {invoice.name!r} is not submitted",
                )
            )
        if ref.allocated_amount <= 0:
            errors.append(
                _err(
                    f"{where}.allocated_amount",
                    "not_positive",
                    f"must be greater than 0, got {ref.allocated_amount}",
                )
            )
        elif ref.allocated_amount + taken.get(invoice.name, Decimal(0)) > invoice.outstanding:
            left = invoice.outstanding - taken.get(invoice.name, Decimal(0))
            errors.append(
                _err(
                    f"{where}.allocated_amount",
                    "exceeds_outstanding",
                    f"{ref.allocated_amount} exceeds the outstanding {left} of {invoice.name}",
                )
            )
        taken[invoice.name] = taken.get(invoice.name, Decimal(0)) + max(ref.allocated_amount, Decimal(0))
        allocated += ref.allocated_amount
    if allocated > doc.paid_amount:
        errors.append(
            _err(
                "references",
                "over_allocated",
                f"allocations total {allocated}, more than paid {doc.paid_amount}",
            )
        )

    if doc.mode_of_payment == "SEPA Direct Debit" and ctx.customer_known:
        members = _members_paid_for(doc, ctx)
        if not any(m.member in members and m.usable_on(doc.posting_date) for m in ctx.mandates):
            errors.append(
                _err(
                    "mode_of_payment",
                    "no_active_mandate",
                    f"SEPA Direct Debit needs an active, unexpired mandate on {doc.posting_date}",
                )
            )
    return errors


def _members_paid_for(doc: PaymentEntry, ctx: PaymentContext) -> set[str]:
    """Every member of the customer, plus members the invoices name: a family's one mandate (often the first
    member's) collects for the whole customer account."""
    named = {
        ctx.invoices[r.reference_name].member
        for r in doc.references
        if r.reference_name in ctx.invoices and ctx.invoices[r.reference_name].member
    }
    return {m for m in named if m} | set(ctx.customer_members)


def validate_sales_invoice(doc: SalesInvoice, ctx: InvoiceContext) -> list[FieldError]:
    errors: list[FieldError] = []
    if not doc.customer:
        errors.append(_err("customer", "missing", "is required"))
    elif not ctx.customer_known:
        errors.append(_err("customer", "unknown_customer", f"customer {doc.customer!r} is not known to the ledger"))
    if not doc.is_return and doc.grand_total <= 0:
        errors.append(_err("grand_total", "not_positive", f"must be greater than 0, got {doc.grand_total}"))
    if doc.due_date is None:
        errors.append(_err("due_date", "missing", "is required"))
    if doc.is_return:
        if not doc.return_against:
            errors.append(_err("return_against", "missing", "is required for a return (credit note)"))
        elif not ctx.return_against_known:
            errors.append(_err("return_against", "unknown_invoice", f"invoice {doc.return_against!r} is not known"))
    return errors


# In ERPNext a payment can only reference an invoice the ERP has submitted: when duesflow does not know it, duesflow is
# behind (the invoice's own step 1 still waiting, say for PostgreSQL), not the payment wrong. The payment waits for it
# (its verdict stays pending, nothing is written) this long; an invoice still unknown then never reached duesflow.
WAIT_FOR_UNKNOWN_INVOICE = dt.timedelta(hours=1)


def invoices_to_wait_for(unknown: Sequence[str], rejected: Collection[str], waited: dt.timedelta) -> list[str]:
    """The referenced invoices this payment waits for: unknown to the ledger and not rejected by duesflow (that
    invoice will never come), while the wait has not run out. Empty: decide now.

    An invoice with an accepted verdict but not among the known ones was recorded after this attempt read the
    ledger (its step 1 committed in between): the next attempt will see it, so it is waited for too."""
    if waited >= WAIT_FOR_UNKNOWN_INVOICE:
        return []
    return [name for name in unknown if name not in rejected]
