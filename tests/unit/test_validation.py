"""Unit tests of pure logic: the step-1 validation rules of docs/business-rules.md §2 (``domain.validation``).

No database, no network: every ``PaymentContext`` / ``InvoiceContext`` — what the ledger would know — is built here.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from domain.contracts import PaymentEntry, SalesInvoice
from domain.mandates import MandateState
from domain.validation import (
    KNOWN_MODES_OF_PAYMENT,
    InvoiceBalance,
    InvoiceContext,
    PaymentContext,
    validate_payment_entry,
    validate_sales_invoice,
)
from domain.verdicts import FieldError
from tests.conftest import load_fixture

POSTED = dt.date(2025, 4, 2)
CUSTOMER = "Jan Bakker"
MEMBER = "Assoc-Member-2024-11-0001"
OTHER_MEMBER = "Assoc-Member-2024-11-0003"  # Pieter Visser: another customer
INVOICE = "ACC-SINV-2025-00101"


def _payment(references: list[dict[str, Any]] | None = None, **changes: Any) -> PaymentEntry:
    """A submitted Bank Transfer of 15.00 from Jan Bakker allocated to his invoice, with ``changes`` applied."""
    raw: dict[str, Any] = {
        "doctype": "Payment Entry",
        "name": "ACC-PAY-2025-00900",
        "docstatus": 1,
        "payment_type": "Receive",
        "party_type": "Customer",
        "party": CUSTOMER,
        "posting_date": POSTED.isoformat(),
        "mode_of_payment": "Bank Transfer",
        "paid_amount": 15.0,
        "references": (
            references
            if references is not None
            else [{"reference_doctype": "Sales Invoice", "reference_name": INVOICE, "allocated_amount": 15.0}]
        ),
    }
    raw.update(changes)
    return PaymentEntry.model_validate(raw)


def _ref(amount: object, name: str = INVOICE, doctype: str | None = "Sales Invoice") -> dict[str, Any]:
    return {"reference_doctype": doctype, "reference_name": name, "allocated_amount": amount}


def _invoice(
    name: str = INVOICE, outstanding: str = "15.00", docstatus: int = 1, member: str | None = MEMBER
) -> InvoiceBalance:
    return InvoiceBalance(
        name=name, customer=CUSTOMER, docstatus=docstatus, outstanding=Decimal(outstanding), member=member
    )


def _mandate(
    member: str = MEMBER, status: str = "Active", expiry_date: dt.date | None = None, mandate_id: str = "MANDATE-1"
) -> MandateState:
    return MandateState(mandate_id=mandate_id, member=member, status=status, expiry_date=expiry_date)


def _ctx(
    *,
    customer_known: bool = True,
    members: tuple[str, ...] = (MEMBER,),
    invoices: list[InvoiceBalance] | None = None,
    mandates: tuple[MandateState, ...] = (),
) -> PaymentContext:
    invs = invoices if invoices is not None else [_invoice()]
    return PaymentContext(
        customer_known=customer_known,
        customer_members=members,
        invoices={i.name: i for i in invs},
        mandates=mandates,
    )


def _codes(errors: list[FieldError]) -> set[tuple[str, str]]:
    return {(e.field, e.code) for e in errors}


# ---- the happy path ------------------------------------------------------------------------------------------------


def test_valid_member_payment_has_no_errors() -> None:
    assert validate_payment_entry(_payment(), _ctx()) == []


def test_sepa_fixture_with_its_ledger_context_is_accepted() -> None:
    doc = PaymentEntry.model_validate(load_fixture("payment_entry_ACC-PAY-2025-00201.json"))
    ctx = _ctx(mandates=(_mandate(mandate_id="MANDATE-24-11-0001"),))
    assert validate_payment_entry(doc, ctx) == []


def test_unallocated_payment_is_accepted() -> None:
    doc = PaymentEntry.model_validate(load_fixture("payment_entry_ACC-PAY-2025-00203.json"))
    assert validate_payment_entry(doc, _ctx(invoices=[])) == []


# ---- rule 1: party present and paid_amount > 0 ---------------------------------------------------------------------


@pytest.mark.parametrize("party", [None, "", "   "])
def test_missing_party_is_rejected(party: str | None) -> None:
    errors = validate_payment_entry(_payment(party=party), _ctx())
    assert ("party", "missing") in _codes(errors)
    assert ("party", "unknown_customer") not in _codes(errors)  # no second error for the same missing party


@pytest.mark.parametrize("paid", [0, -15.0])
def test_paid_amount_must_be_positive(paid: float) -> None:
    errors = validate_payment_entry(_payment(references=[], paid_amount=paid), _ctx())
    assert ("paid_amount", "not_positive") in _codes(errors)


def test_one_cent_is_a_positive_payment() -> None:
    assert validate_payment_entry(_payment(references=[], paid_amount="0.01"), _ctx()) == []


# ---- rule 2: customer known ----------------------------------------------------------------------------------------


def test_unknown_customer_is_rejected() -> None:
    errors = validate_payment_entry(_payment(), _ctx(customer_known=False))
    assert _codes(errors) == {("party", "unknown_customer")}
    assert CUSTOMER in errors[0].message


# ---- rule 3: mode of payment known ---------------------------------------------------------------------------------


def test_unknown_mode_of_payment_is_rejected() -> None:
    errors = validate_payment_entry(_payment(mode_of_payment="Bitcoin"), _ctx())
    assert _codes(errors) == {("mode_of_payment", "unknown_mode")}


@pytest.mark.parametrize("mode", sorted(KNOWN_MODES_OF_PAYMENT - {"SEPA Direct Debit"}))
def test_known_modes_of_payment_are_accepted(mode: str) -> None:
    assert validate_payment_entry(_payment(mode_of_payment=mode), _ctx()) == []


def test_the_modes_domain_md_names_are_known() -> None:
    assert {"SEPA Direct Debit", "SEPA Direct Debit Return", "Bank Transfer", "Mollie", "Cash", "Credit Card"} <= (
        KNOWN_MODES_OF_PAYMENT
    )


@pytest.mark.parametrize("mode", [None, ""])
def test_mode_of_payment_is_optional(mode: str | None) -> None:
    assert validate_payment_entry(_payment(mode_of_payment=mode), _ctx()) == []


# ---- rule 4: references point at known, submitted invoices; 0 < allocated ≤ outstanding ----------------------------


def test_allocation_equal_to_outstanding_is_accepted() -> None:
    doc = _payment(references=[_ref("12.34")], paid_amount="12.34")
    assert validate_payment_entry(doc, _ctx(invoices=[_invoice(outstanding="12.34")])) == []


def test_allocation_one_cent_over_outstanding_is_rejected() -> None:
    doc = _payment(references=[_ref("12.35")], paid_amount="20.00")
    errors = validate_payment_entry(doc, _ctx(invoices=[_invoice(outstanding="12.34")]))
    assert _codes(errors) == {("references.0.allocated_amount", "exceeds_outstanding")}


def test_allocation_to_a_settled_invoice_is_rejected() -> None:
    errors = validate_payment_entry(_payment(), _ctx(invoices=[_invoice(outstanding="0.00")]))
    assert _codes(errors) == {("references.0.allocated_amount", "exceeds_outstanding")}


@pytest.mark.parametrize("amount", [0, -5.0])
def test_allocation_must_be_positive(amount: float) -> None:
    errors = validate_payment_entry(_payment(references=[_ref(amount)]), _ctx())
    assert _codes(errors) == {("references.0.allocated_amount", "not_positive")}


def test_reference_to_unknown_invoice_is_rejected() -> None:
    errors = validate_payment_entry(_payment(references=[_ref(15.0, name="ACC-SINV-2025-09999")]), _ctx())
    assert _codes(errors) == {("references.0.reference_name", "unknown_invoice")}
    assert "ACC-SINV-2025-09999" in errors[0].message


@pytest.mark.parametrize("docstatus", [0, 2])
def test_reference_to_non_submitted_invoice_is_rejected(docstatus: int) -> None:
    errors = validate_payment_entry(_payment(), _ctx(invoices=[_invoice(docstatus=docstatus)]))
    assert _codes(errors) == {("references.0.reference_name", "invoice_not_submitted")}


def test_reference_to_unknown_doctype_is_rejected() -> None:
    doc = _payment(references=[_ref(15.0, name="ACC-JV-2025-00001", doctype="Journal Entry")])
    errors = validate_payment_entry(doc, _ctx())
    assert _codes(errors) == {("references.0.reference_doctype", "unknown_reference")}


@pytest.mark.parametrize("ref", [_ref(15.0, name=""), _ref(15.0, doctype=None)])
def test_reference_row_without_doctype_or_name_is_skipped(ref: dict[str, Any]) -> None:
    assert validate_payment_entry(_payment(references=[ref]), _ctx()) == []


def test_error_names_the_offending_reference_row() -> None:
    second = "ACC-SINV-2025-00105"
    doc = _payment(references=[_ref(15.0), _ref(15.01, name=second)], paid_amount=40.0)
    errors = validate_payment_entry(doc, _ctx(invoices=[_invoice(), _invoice(name=second)]))
    assert _codes(errors) == {("references.1.allocated_amount", "exceeds_outstanding")}


def test_two_rows_to_one_invoice_cannot_together_exceed_its_outstanding() -> None:
    doc = _payment(references=[_ref(10.0), _ref(10.0)], paid_amount=20.0)
    errors = validate_payment_entry(doc, _ctx(invoices=[_invoice(outstanding="15.00")]))
    assert _codes(errors) == {("references.1.allocated_amount", "exceeds_outstanding")}


def test_two_rows_to_one_invoice_may_together_settle_it_exactly() -> None:
    doc = _payment(references=[_ref(10.0), _ref(5.0)], paid_amount=15.0)
    assert validate_payment_entry(doc, _ctx(invoices=[_invoice(outstanding="15.00")])) == []


# ---- rule 5: Σ allocated ≤ paid_amount -----------------------------------------------------------------------------


def test_allocations_above_paid_amount_are_rejected() -> None:
    second = "ACC-SINV-2025-00105"
    doc = _payment(references=[_ref(15.0), _ref(15.0, name=second)], paid_amount=29.99)
    errors = validate_payment_entry(doc, _ctx(invoices=[_invoice(), _invoice(name=second)]))
    assert _codes(errors) == {("references", "over_allocated")}


def test_allocations_equal_to_paid_amount_are_accepted() -> None:
    second = "ACC-SINV-2025-00105"
    doc = _payment(references=[_ref(15.0), _ref(15.0, name=second)], paid_amount=30.0)
    assert validate_payment_entry(doc, _ctx(invoices=[_invoice(), _invoice(name=second)])) == []


def test_single_allocation_above_paid_amount_is_rejected() -> None:
    doc = _payment(references=[_ref(15.0)], paid_amount=10.0)
    assert _codes(validate_payment_entry(doc, _ctx())) == {("references", "over_allocated")}


# ---- rule 6: SEPA Direct Debit needs an Active, unexpired mandate for the member -----------------------------------


def _sepa(**changes: Any) -> PaymentEntry:
    return _payment(mode_of_payment="SEPA Direct Debit", **changes)


def test_sepa_with_active_mandate_is_accepted() -> None:
    assert validate_payment_entry(_sepa(), _ctx(mandates=(_mandate(),))) == []


def test_sepa_without_any_mandate_is_rejected() -> None:
    errors = validate_payment_entry(_sepa(), _ctx(mandates=()))
    assert _codes(errors) == {("mode_of_payment", "no_active_mandate")}


@pytest.mark.parametrize("status", ["Draft", "Cancelled", "Expired", "Suspended"])
def test_sepa_with_inactive_mandate_is_rejected(status: str) -> None:
    errors = validate_payment_entry(_sepa(), _ctx(mandates=(_mandate(status=status),)))
    assert _codes(errors) == {("mode_of_payment", "no_active_mandate")}


def test_sepa_with_mandate_expired_before_posting_date_is_rejected() -> None:
    expired = _mandate(expiry_date=POSTED - dt.timedelta(days=1))
    errors = validate_payment_entry(_sepa(), _ctx(mandates=(expired,)))
    assert _codes(errors) == {("mode_of_payment", "no_active_mandate")}


def test_sepa_with_mandate_expiring_on_posting_date_is_accepted() -> None:
    assert validate_payment_entry(_sepa(), _ctx(mandates=(_mandate(expiry_date=POSTED),))) == []


def test_sepa_with_mandate_of_another_customers_member_is_rejected() -> None:
    errors = validate_payment_entry(_sepa(), _ctx(mandates=(_mandate(member=OTHER_MEMBER),)))
    assert _codes(errors) == {("mode_of_payment", "no_active_mandate")}


def test_sepa_with_the_familys_shared_mandate_is_accepted() -> None:
    # Family customer (fixture README, ledger/sepa.py _mandate_for): the invoice names Daan, the customer's one
    # mandate is Sophie's, and it collects for the whole customer account.
    daan, sophie = "Assoc-Member-2024-11-0005", "Assoc-Member-2024-11-0004"
    ctx = _ctx(members=(sophie, daan), invoices=[_invoice(member=daan)], mandates=(_mandate(member=sophie),))
    assert validate_payment_entry(_sepa(), ctx) == []


def test_sepa_with_the_familys_mandate_expired_is_rejected() -> None:
    daan, sophie = "Assoc-Member-2024-11-0005", "Assoc-Member-2024-11-0004"
    expired = _mandate(member=sophie, expiry_date=POSTED - dt.timedelta(days=1))
    ctx = _ctx(members=(sophie, daan), invoices=[_invoice(member=daan)], mandates=(expired,))
    assert _codes(validate_payment_entry(_sepa(), ctx)) == {("mode_of_payment", "no_active_mandate")}


def test_sepa_for_invoices_without_a_member_uses_the_customers_members() -> None:
    sophie = "Assoc-Member-2024-11-0004"
    ctx = _ctx(members=(sophie,), invoices=[_invoice(member=None)], mandates=(_mandate(member=sophie),))
    assert validate_payment_entry(_sepa(), ctx) == []


def test_one_usable_mandate_is_enough() -> None:
    mandates = (_mandate(status="Cancelled", mandate_id="OLD"), _mandate(mandate_id="NEW"))
    assert validate_payment_entry(_sepa(), _ctx(mandates=mandates)) == []


def test_mandate_rule_does_not_apply_to_bank_transfers() -> None:
    assert validate_payment_entry(_payment(mode_of_payment="Bank Transfer"), _ctx(mandates=())) == []


# ---- non-member payments are accepted as they are (bug B9) ---------------------------------------------------------


def test_internal_transfer_fixture_without_party_is_accepted() -> None:
    doc = PaymentEntry.model_validate(load_fixture("payment_entry_ACC-PAY-2025-00204.json"))
    assert doc.payment_type == "Internal Transfer" and doc.party is None
    assert validate_payment_entry(doc, PaymentContext(customer_known=False)) == []


@pytest.mark.parametrize(
    "changes",
    [
        {"payment_type": "Internal Transfer", "party_type": None, "party": None, "paid_amount": 0},
        {"payment_type": "Pay", "party_type": "Supplier", "party": "Drukkerij De Boer", "mode_of_payment": "Bitcoin"},
        {"payment_type": "Pay", "party_type": "Customer", "party": CUSTOMER},
        {"payment_type": "Receive", "party_type": "Supplier", "party": "Drukkerij De Boer"},
    ],
)
def test_non_member_payments_are_accepted_without_checks(changes: dict[str, Any]) -> None:
    doc = _payment(references=[_ref(999.0, name="ACC-SINV-UNKNOWN")], **changes)
    assert validate_payment_entry(doc, PaymentContext(customer_known=False)) == []


def test_all_problems_of_a_payment_are_reported_together() -> None:
    doc = _payment(mode_of_payment="Bitcoin", references=[_ref(15.0, name="ACC-SINV-2025-09999")], paid_amount=0)
    errors = validate_payment_entry(doc, _ctx(customer_known=False))
    assert {e.code for e in errors} >= {"not_positive", "unknown_customer", "unknown_mode", "unknown_invoice"}


# ---- Sales Invoice -------------------------------------------------------------------------------------------------


def _sales_invoice(**changes: Any) -> SalesInvoice:
    raw = load_fixture("sales_invoice_ACC-SINV-2025-00101.json")
    raw.update(changes)
    return SalesInvoice.model_validate(raw)


def test_valid_invoice_has_no_errors() -> None:
    assert validate_sales_invoice(_sales_invoice(), InvoiceContext(customer_known=True)) == []


def test_credit_note_fixture_is_accepted() -> None:
    doc = SalesInvoice.model_validate(load_fixture("sales_invoice_ACC-SINV-RET-2025-00003.json"))
    assert doc.is_return and doc.grand_total < 0
    assert validate_sales_invoice(doc, InvoiceContext(customer_known=True, return_against_known=True)) == []


@pytest.mark.parametrize("customer", [None, ""])
def test_invoice_without_customer_is_rejected(customer: str | None) -> None:
    errors = validate_sales_invoice(_sales_invoice(customer=customer), InvoiceContext(customer_known=False))
    assert _codes(errors) == {("customer", "missing")}


def test_invoice_of_unknown_customer_is_rejected() -> None:
    errors = validate_sales_invoice(_sales_invoice(), InvoiceContext(customer_known=False))
    assert _codes(errors) == {("customer", "unknown_customer")}


@pytest.mark.parametrize("total", [0, -15.0])
def test_invoice_total_must_be_positive(total: float) -> None:
    errors = validate_sales_invoice(_sales_invoice(grand_total=total), InvoiceContext(customer_known=True))
    assert _codes(errors) == {("grand_total", "not_positive")}


def test_return_may_have_negative_total() -> None:
    doc = _sales_invoice(is_return=1, return_against="ACC-SINV-2025-00100", grand_total=-15.0)
    assert validate_sales_invoice(doc, InvoiceContext(customer_known=True)) == []


def test_invoice_without_due_date_is_rejected() -> None:
    errors = validate_sales_invoice(_sales_invoice(due_date=None), InvoiceContext(customer_known=True))
    assert _codes(errors) == {("due_date", "missing")}


@pytest.mark.parametrize("against", [None, ""])
def test_return_without_return_against_is_rejected(against: str | None) -> None:
    doc = _sales_invoice(is_return=1, return_against=against, grand_total=-15.0)
    errors = validate_sales_invoice(doc, InvoiceContext(customer_known=True))
    assert _codes(errors) == {("return_against", "missing")}


def test_return_against_unknown_invoice_is_rejected() -> None:
    doc = _sales_invoice(is_return=1, return_against="ACC-SINV-2025-09999", grand_total=-15.0)
    errors = validate_sales_invoice(doc, InvoiceContext(customer_known=True, return_against_known=False))
    assert _codes(errors) == {("return_against", "unknown_invoice")}


def test_return_against_is_only_checked_for_returns() -> None:
    doc = _sales_invoice()
    assert validate_sales_invoice(doc, InvoiceContext(customer_known=True, return_against_known=False)) == []


def test_a_payment_waits_only_for_invoices_duesflow_has_not_rejected_and_only_for_a_while() -> None:
    from domain.validation import WAIT_FOR_UNKNOWN_INVOICE, invoices_to_wait_for

    soon, late = dt.timedelta(seconds=5), WAIT_FOR_UNKNOWN_INVOICE
    assert invoices_to_wait_for(["INV-1", "INV-2"], {"INV-2"}, soon) == ["INV-1"]  # INV-2 was rejected: never comes
    assert invoices_to_wait_for(["INV-2"], {"INV-2"}, soon) == []
    assert invoices_to_wait_for(["INV-1"], set(), late) == []  # an hour on: it never reached duesflow
