"""Unit tests of pure logic: the daily upkeep rules (``domain.upkeep``). No database."""

from __future__ import annotations

import datetime as dt

import pytest

from domain.upkeep import MandateFacts, add_months, lifecycle_action, retention_cutoffs, rollup_before

ON = dt.date(2026, 11, 23)


def mandate(**changes: object) -> MandateFacts:
    base = dict(
        site="s",
        mandate_id="MD",
        member="M",
        status="Active",
        sign_date=dt.date(2025, 1, 10),
        expiry_date=None,
        last_presented=dt.date(2026, 10, 1),
        warned=False,
    )
    return MandateFacts(**{**base, **changes})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (dt.date(2024, 2, 29), 12, dt.date(2025, 2, 28)),
        (dt.date(2023, 1, 31), 1, dt.date(2023, 2, 28)),
        (dt.date(2023, 11, 23), 36, dt.date(2026, 11, 23)),
        (dt.date(2026, 11, 23), -84, dt.date(2019, 11, 23)),
    ],
)
def test_add_months_clamps_to_month_end(day: dt.date, months: int, expected: dt.date) -> None:
    assert add_months(day, months) == expected


def test_a_used_mandate_in_date_is_left_alone() -> None:
    assert lifecycle_action(mandate(), ON) is None


def test_expiry_date_passed_expires() -> None:
    assert lifecycle_action(mandate(expiry_date=dt.date(2026, 11, 22)), ON) == "expire_passed"
    assert lifecycle_action(mandate(expiry_date=ON), ON) != "expire_passed"  # expires after its last day


def test_36_months_without_a_presented_collection_lapses() -> None:
    assert lifecycle_action(mandate(last_presented=dt.date(2023, 11, 23)), ON) == "expire_dormant"
    assert lifecycle_action(mandate(last_presented=dt.date(2023, 11, 24)), ON) is None


def test_a_never_used_mandate_lapses_36_months_after_signature() -> None:
    assert lifecycle_action(mandate(last_presented=None, sign_date=dt.date(2023, 11, 1)), ON) == "expire_dormant"
    assert lifecycle_action(mandate(last_presented=None, sign_date=dt.date(2024, 1, 1)), ON) is None


def test_warning_once_within_30_days_of_expiry() -> None:
    assert lifecycle_action(mandate(expiry_date=dt.date(2026, 12, 23)), ON) == "warn"
    assert lifecycle_action(mandate(expiry_date=dt.date(2026, 12, 24)), ON) is None
    assert lifecycle_action(mandate(expiry_date=dt.date(2026, 12, 1), warned=True), ON) is None  # not daily (B15)


@pytest.mark.parametrize("status", ["Expired", "Cancelled", "Draft"])
def test_only_live_mandates_change(status: str) -> None:
    assert lifecycle_action(mandate(status=status, expiry_date=dt.date(2020, 1, 1)), ON) is None


def test_retention_by_severity() -> None:
    cut = retention_cutoffs(ON)
    midnight = dt.datetime(2026, 11, 23, tzinfo=dt.UTC)
    assert cut["info"] == midnight - dt.timedelta(days=30)
    assert cut["warning"] == midnight - dt.timedelta(days=90)
    assert cut["error"] == midnight - dt.timedelta(days=365)
    assert cut["critical"] == dt.datetime(2019, 11, 23, tzinfo=dt.UTC)


def test_rollup_window() -> None:
    assert rollup_before(ON, 90) == dt.date(2026, 8, 25)
