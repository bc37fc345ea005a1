"""Unit tests of pure logic: which payments are members' and which are SEPA returns (``domain.payments``,
``domain.sepa_returns``), for a payment as the ledger holds it. No database.

The document model states the same rules (``PaymentEntry.is_member_payment``, ``.is_sepa_return``): every
combination is checked against it, so the two cannot drift apart.
"""

from __future__ import annotations

import itertools

import pytest

from domain.contracts import PaymentEntry
from domain.payments import is_member_payment
from domain.sepa_returns import SEPA_RETURN_MODE, is_sepa_return

PAYMENT_TYPES = ("Receive", "Pay", "Internal Transfer")
PARTY_TYPES = ("Customer", "Supplier", "Employee", None)
MODES = (SEPA_RETURN_MODE, "SEPA Direct Debit", "Bank Transfer", None)


def _document(payment_type: str, party_type: str | None, mode: str | None) -> PaymentEntry:
    return PaymentEntry.model_validate(
        {
            "doctype": "Payment Entry",
            "name": "ACC-PAY-2025-00900",
            "docstatus": 1,
            "payment_type": payment_type,
            "party_type": party_type,
            "party": "Jan Bakker",
            "posting_date": "2025-04-02",
            "mode_of_payment": mode,
            "paid_amount": 15.0,
        }
    )


@pytest.mark.parametrize(
    ("payment_type", "party_type", "mode"), list(itertools.product(PAYMENT_TYPES, PARTY_TYPES, MODES))
)
def test_the_ledger_rules_agree_with_the_document_model(
    payment_type: str, party_type: str | None, mode: str | None
) -> None:
    doc = _document(payment_type, party_type, mode)
    assert is_member_payment(payment_type, party_type) is doc.is_member_payment
    assert is_sepa_return(mode, party_type) is doc.is_sepa_return


def test_money_received_from_a_customer_is_a_member_payment() -> None:
    assert is_member_payment("Receive", "Customer")
    assert not is_member_payment("Pay", "Customer")
    assert not is_member_payment("Receive", "Supplier")
    assert not is_member_payment("Internal Transfer", None)


def test_a_sepa_return_is_a_customer_s_direct_debit_return() -> None:
    assert is_sepa_return("SEPA Direct Debit Return", "Customer")
    assert not is_sepa_return("SEPA Direct Debit", "Customer")
    assert not is_sepa_return("SEPA Direct Debit Return", "Supplier")
    assert not is_sepa_return(None, "Customer")
