"""Unit tests of pure logic: what a payment's analytics fact counts (``domain.analytics``). No database."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from domain.analytics import fact_amount, fact_mode, in_rolled_up_month


def test_a_payment_without_a_mode_is_counted_as_unspecified() -> None:
    assert fact_mode(None) == "Unspecified"
    assert fact_mode("") == "Unspecified"
    assert fact_mode("SEPA Direct Debit") == "SEPA Direct Debit"


@pytest.mark.parametrize(("payment_type", "expected"), [("Receive", "15.00"), ("Pay", "-15.00")])
def test_money_paid_back_lowers_the_totals(payment_type: str, expected: str) -> None:
    assert str(fact_amount(payment_type, Decimal("15.00"))) == expected


@pytest.mark.parametrize(
    ("posted", "before", "expected"),
    [
        (dt.date(2025, 1, 31), dt.date(2025, 2, 1), True),
        (dt.date(2025, 2, 1), dt.date(2025, 2, 1), False),  # the roll-up's own day stays a detail fact
        (dt.date(2025, 1, 31), None, False),  # nothing rolled up yet
    ],
)
def test_in_rolled_up_month(posted: dt.date, before: dt.date | None, expected: bool) -> None:
    assert in_rolled_up_month(posted, before) is expected
