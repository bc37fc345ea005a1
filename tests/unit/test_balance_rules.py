"""Unit tests of pure logic: what an invoice still owes (``domain.balances``, docs/business-rules.md §1). No database.

tests/integration/test_outstanding_rule.py holds the SQL twins in ``ledger/documents.py`` to the same answers.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from domain.balances import InvoiceStanding, outstanding_of, owes, signed_amount

D = Decimal


@pytest.mark.parametrize(
    ("total", "paid", "credited", "expected"),
    [
        ("15.00", "0", "0", "15.00"),
        ("45.00", "20.00", "5.00", "20.00"),
        ("15.00", "15.00", "0", "0.00"),
        ("15.00", "0", "15.00", "0.00"),
        ("15.00", "20.00", "0", "-5.00"),  # overpaid
        ("15.00", "-15.00", "0", "30.00"),  # a return paid back more than was received
        ("0.01", "0", "0", "0.01"),
    ],
)
def test_outstanding_is_the_total_less_what_was_paid_and_credited(
    total: str, paid: str, credited: str, expected: str
) -> None:
    assert str(outstanding_of(D(total), D(paid), D(credited))) == expected


@pytest.mark.parametrize(("outstanding", "expected"), [("0.01", True), ("0.00", False), ("0", False), ("-5.00", False)])
def test_an_invoice_owes_while_its_outstanding_is_positive(outstanding: str, expected: bool) -> None:
    assert owes(D(outstanding)) is expected


@pytest.mark.parametrize(
    ("payment_type", "expected"), [("Receive", "15.00"), ("Pay", "-15.00"), ("Internal Transfer", "15.00")]
)
def test_money_paid_back_counts_against(payment_type: str, expected: str) -> None:
    assert str(signed_amount(payment_type, D("15.00"))) == expected


def test_a_standing_owes_what_its_sums_leave() -> None:
    standing = InvoiceStanding(
        docstatus=1, due_date=dt.date(2025, 3, 31), grand_total=D("30.00"), paid=D("10.00"), credited=D("5.00")
    )
    assert standing.outstanding == D("15.00") and standing.credited == D("5.00")
