"""Unit tests of pure logic: what follows a SEPA Direct Debit Return (``domain.sepa_returns``). No database."""

from __future__ import annotations

import datetime as dt

import pytest

from domain.sepa_returns import decide, next_business_day, retry_due

MON, THU, FRI, SAT, SUN = (dt.date(2026, 11, d) for d in (16, 19, 20, 21, 22))


def test_weekdays_stay_and_weekends_move_to_monday() -> None:
    assert next_business_day(THU) == THU
    assert next_business_day(SAT) == dt.date(2026, 11, 23)
    assert next_business_day(SUN) == dt.date(2026, 11, 23)


@pytest.mark.parametrize(
    ("returned", "offset", "due"),
    [
        (MON, 3, dt.date(2026, 11, 19)),  # Thursday
        (THU, 3, dt.date(2026, 11, 23)),  # Sunday → Monday
        (FRI, 7, dt.date(2026, 11, 27)),  # Friday stays
        (dt.date(2026, 11, 15), 14, dt.date(2026, 11, 30)),  # Sunday + 14 = Sunday → Monday
    ],
)
def test_retry_dates_skip_weekends(returned: dt.date, offset: int, due: dt.date) -> None:
    assert retry_due(returned, offset) == due
    assert due.weekday() < 5


def test_transient_codes_retry_after_3_7_14_days_then_escalate() -> None:
    decisions = [decide("AM04", MON, earlier) for earlier in range(4)]
    assert [(d.decision, d.attempt, d.due_date) for d in decisions] == [
        ("retry", 1, dt.date(2026, 11, 19)),
        ("retry", 2, dt.date(2026, 11, 23)),
        ("retry", 3, dt.date(2026, 11, 30)),
        ("escalate", None, None),
    ]
    assert decide("MS03", MON, 0).decision == "retry"


@pytest.mark.parametrize("code", ["AC04", "MD01", "MD07"])
def test_final_codes_stop(code: str) -> None:
    d = decide(code, MON, 0)
    assert (d.decision, d.due_date, d.severity) == ("stop", None, "warning")


def test_refund_request_goes_to_a_person() -> None:
    assert decide("MD06", MON, 0).decision == "manual"


def test_unknown_codes_go_to_a_person_not_to_a_guess() -> None:
    assert decide("XX99", MON, 0).decision == "manual"


def test_codes_are_read_case_and_space_insensitively() -> None:
    d = decide(" am04 ", MON, 0)
    assert (d.decision, d.reason_code) == ("retry", "AM04")


def test_configured_offsets_bound_the_number_of_retries() -> None:
    assert decide("AM04", MON, 0, offsets=(5,)).due_date == dt.date(2026, 11, 23)  # Saturday → Monday
    assert decide("AM04", MON, 1, offsets=(5,)).decision == "escalate"
