"""Unit tests of pure logic: when a SEPA mandate can be collected on (``domain.mandates``). No database."""

from __future__ import annotations

import datetime as dt

import pytest

from domain.mandates import LIFECYCLE_STATUSES, MandateState, usable, usable_count
from domain.upkeep import MandateFacts, lifecycle_action

DAY = dt.date(2025, 4, 2)


@pytest.mark.parametrize(
    ("status", "expiry", "expected"),
    [
        ("Active", None, True),
        ("Active", DAY, True),  # expiring that day: still usable
        ("Active", DAY + dt.timedelta(days=1), True),
        ("Active", DAY - dt.timedelta(days=1), False),
        ("Draft", None, False),
        ("Suspended", None, False),
        ("Cancelled", None, False),
        ("Expired", None, False),
    ],
)
def test_usable(status: str, expiry: dt.date | None, expected: bool) -> None:
    assert usable(status, expiry, DAY) is expected
    assert MandateState("MD-1", "M1", status, expiry).usable_on(DAY) is expected


def test_usable_count() -> None:
    mandates = [
        MandateState("MD-1", "M1", "Active", None),
        MandateState("MD-2", "M1", "Active", DAY - dt.timedelta(days=1)),
        MandateState("MD-3", "M2", "Active", DAY),
        MandateState("MD-4", "M2", "Draft", None),
    ]
    assert usable_count(mandates, DAY) == 2
    assert usable_count([], DAY) == 0


@pytest.mark.parametrize("status", ["Active", "Suspended", "Draft", "Cancelled", "Expired"])
def test_the_lifecycle_acts_on_exactly_the_lifecycle_statuses(status: str) -> None:
    """``ledger/upkeep.py`` selects and expires mandates by ``LIFECYCLE_STATUSES``; ``domain.upkeep`` decides."""
    mandate = MandateFacts(
        site="s",
        mandate_id="MD-1",
        member="M1",
        status=status,
        sign_date=dt.date(2020, 1, 1),
        expiry_date=DAY - dt.timedelta(days=1),
        last_presented=None,
        warned=False,
    )
    assert (lifecycle_action(mandate, DAY) is not None) is (status in LIFECYCLE_STATUSES)
