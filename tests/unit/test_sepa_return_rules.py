"""Unit tests of pure logic: what follows a SEPA Direct Debit Return (``domain.sepa_returns``). No database."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from domain.sepa_returns import (
    ATTENTION_DECISIONS,
    CollectedUsage,
    ReturnDecision,
    answered_collection,
    decide,
    next_business_day,
    retry_due,
    return_problem,
)

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


# ---- a return needs its reason code --------------------------------------------------------------------------------


@pytest.mark.parametrize("reason", [None, ""])
def test_a_return_without_its_reason_code_is_refused(reason: str | None) -> None:
    assert return_problem(reason) == ("missing_return_reason", "a SEPA return needs its reason code (e.g. AM04)")


def test_a_return_with_a_reason_code_can_be_recorded() -> None:
    assert return_problem("AM04") is None


# ---- how a decision is recorded ------------------------------------------------------------------------------------


def test_a_retry_is_scheduled_and_everything_else_waits_for_a_person() -> None:
    assert ReturnDecision("retry", "AM04", 1, MON).initial_status == "scheduled"
    for decision in ATTENTION_DECISIONS:
        assert ReturnDecision(decision, "MD06").initial_status == "open"
    assert set(ATTENTION_DECISIONS) == {"manual", "stop", "escalate"}


# ---- the collection a return answers -------------------------------------------------------------------------------


def _usage(usage_id: int, amount: str, day: dt.date | None, mandate: str = "MD-1") -> CollectedUsage:
    return CollectedUsage(id=usage_id, mandate_id=mandate, amount=Decimal(amount), collection_date=day)


def test_nothing_collected_means_nothing_answered() -> None:
    assert answered_collection([], Decimal("15.00")) is None


def test_a_collection_of_the_returned_amount_comes_first() -> None:
    older_same_amount = _usage(1, "15.00", dt.date(2026, 10, 1))
    newer_other_amount = _usage(2, "30.00", dt.date(2026, 11, 1))
    assert answered_collection([older_same_amount, newer_other_amount], Decimal("15")) == older_same_amount


def test_then_the_newest_collection() -> None:
    older, newer = _usage(2, "15.00", dt.date(2026, 10, 1)), _usage(1, "15.00", dt.date(2026, 11, 1))
    assert answered_collection([older, newer], Decimal("15.00")) == newer
    assert answered_collection([older, newer], Decimal("7.00")) == newer  # none of the amount: still the newest


def test_then_the_last_recorded_of_one_day() -> None:
    first, second = _usage(1, "15.00", MON), _usage(2, "15.00", MON)
    assert answered_collection([second, first], Decimal("15.00")) == second


def test_a_collection_without_a_date_counts_as_the_newest() -> None:
    undated, dated = _usage(1, "15.00", None), _usage(2, "15.00", dt.date.max)
    assert answered_collection([dated, undated], Decimal("15.00")) == undated
