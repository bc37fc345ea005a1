"""Unit tests of pure logic: SEPA mandate rules of docs/business-rules.md §4 that need no database (``domain.sepa``).

No database, no network: sequence-state transitions and the checks made before a collection is recorded.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from domain.mandates import MandateState
from domain.sepa import (
    MandateCandidate,
    batch_reference,
    mandate_for_collection,
    sequence_type_for,
    state_after_collection,
    usage_problem,
)

DAY = dt.date(2025, 4, 2)


def _mandate(status: str = "Active", expiry_date: dt.date | None = None) -> MandateState:
    return MandateState(
        mandate_id="MANDATE-24-11-0001", member="Assoc-Member-2024-11-0001", status=status, expiry_date=expiry_date
    )


# ---- sequence type and state ---------------------------------------------------------------------------------------


def test_first_collection_is_frst() -> None:
    assert sequence_type_for("FRST") == "FRST"


def test_after_the_first_collection_it_is_rcur() -> None:
    assert sequence_type_for("RCUR") == "RCUR"


@pytest.mark.parametrize("sequence_type", ["FRST", "RCUR"])
def test_first_collection_moves_frst_to_rcur(sequence_type: str) -> None:
    # RCUR-first is accepted since the 2016 rulebook; either way the mandate is now recurring.
    assert state_after_collection("FRST", sequence_type) == "RCUR"


def test_rcur_stays_rcur() -> None:
    assert state_after_collection("RCUR", "RCUR") == "RCUR"


@pytest.mark.parametrize("state", ["FRST", "RCUR"])
@pytest.mark.parametrize("sequence_type", ["FNAL", "OOFF"])
def test_final_and_one_off_collections_close_the_mandate(state: str, sequence_type: str) -> None:
    assert state_after_collection(state, sequence_type) == "CLOSED"


def test_closed_stays_closed() -> None:
    assert state_after_collection("CLOSED", "RCUR") == "CLOSED"


def test_collecting_is_idempotent_on_the_state() -> None:
    once = state_after_collection("FRST", sequence_type_for("FRST"))
    twice = state_after_collection(once, sequence_type_for(once))
    assert once == twice == "RCUR"


# ---- usage_problem -------------------------------------------------------------------------------------------------


def test_no_mandate() -> None:
    problem = usage_problem(None, amount=Decimal("15.00"), maximum=None, day=DAY)
    assert problem is not None and problem[0] == "no_mandate"


@pytest.mark.parametrize("status", ["Draft", "Cancelled", "Expired", "Suspended"])
def test_inactive_mandate(status: str) -> None:
    problem = usage_problem(_mandate(status=status), amount=Decimal("15.00"), maximum=None, day=DAY)
    assert problem is not None and problem[0] == "mandate_not_active"
    assert status in problem[1] and "MANDATE-24-11-0001" in problem[1]


def test_expired_mandate() -> None:
    mandate = _mandate(expiry_date=DAY - dt.timedelta(days=1))
    problem = usage_problem(mandate, amount=Decimal("15.00"), maximum=None, day=DAY)
    assert problem is not None and problem[0] == "mandate_not_active"


def test_mandate_expiring_on_the_collection_day_is_usable() -> None:
    assert usage_problem(_mandate(expiry_date=DAY), amount=Decimal("15.00"), maximum=None, day=DAY) is None


def test_amount_over_the_mandate_maximum() -> None:
    problem = usage_problem(_mandate(), amount=Decimal("150.01"), maximum=Decimal("150.00"), day=DAY)
    assert problem is not None and problem[0] == "exceeds_mandate_maximum"
    assert "150.01" in problem[1] and "150.00" in problem[1]


def test_amount_equal_to_the_maximum_is_ok() -> None:
    assert usage_problem(_mandate(), amount=Decimal("150.00"), maximum=Decimal("150.00"), day=DAY) is None


def test_no_maximum_means_no_limit() -> None:
    assert usage_problem(_mandate(), amount=Decimal("9999.99"), maximum=None, day=DAY) is None


def test_usable_mandate_has_no_problem() -> None:
    assert usage_problem(_mandate(), amount=Decimal("15.00"), maximum=Decimal("150.00"), day=DAY) is None


def test_inactive_is_reported_before_the_maximum() -> None:
    problem = usage_problem(_mandate(status="Suspended"), amount=Decimal("500.00"), maximum=Decimal("150.00"), day=DAY)
    assert problem is not None and problem[0] == "mandate_not_active"


# ---- MandateState.usable_on ----------------------------------------------------------------------------------------


def test_usable_on() -> None:
    assert _mandate().usable_on(DAY)
    assert _mandate(expiry_date=DAY).usable_on(DAY)
    assert not _mandate(expiry_date=DAY).usable_on(DAY + dt.timedelta(days=1))
    assert not _mandate(status="Draft").usable_on(DAY)


def test_a_mandate_closed_by_a_final_collection_cannot_be_collected_again() -> None:
    problem = usage_problem(
        _mandate(), amount=Decimal("15.00"), maximum=None, day=dt.date(2025, 4, 2), sequence_state="CLOSED"
    )
    assert problem is not None and problem[0] == "mandate_closed"


# ---- the mandate a collection uses ---------------------------------------------------------------------------------


def _candidate(
    mandate_id: str, member: str, status: str = "Active", signed: dt.date = dt.date(2024, 11, 15)
) -> MandateCandidate:
    return MandateCandidate(
        mandate_id=mandate_id,
        member=member,
        status=status,
        expiry_date=None,
        sign_date=signed,
        maximum_amount=Decimal("150.00"),
        sequence_state="FRST",
    )


def test_no_mandates_no_choice() -> None:
    assert mandate_for_collection([], "M1") is None


def test_the_invoices_own_members_mandate_first() -> None:
    family = _candidate("MD-A", "M1", signed=dt.date(2025, 1, 1))
    own = _candidate("MD-B", "M2", signed=dt.date(2024, 1, 1))
    assert mandate_for_collection([family, own], "M2") == own


def test_else_a_mandate_of_another_member_of_the_customer() -> None:
    family = _candidate("MD-A", "M1")
    assert mandate_for_collection([family], "M2") == family
    assert mandate_for_collection([family], None) == family


def test_active_first_then_the_newest_signature_then_the_given_order() -> None:
    suspended_newest = _candidate("MD-1", "M1", status="Suspended", signed=dt.date(2025, 3, 1))
    active_old = _candidate("MD-2", "M1", signed=dt.date(2024, 1, 1))
    active_new = _candidate("MD-3", "M1", signed=dt.date(2025, 1, 1))
    active_new_too = _candidate("MD-4", "M1", signed=dt.date(2025, 1, 1))
    candidates = [suspended_newest, active_old, active_new, active_new_too]
    assert mandate_for_collection(candidates, "M1") == active_new
    assert mandate_for_collection([suspended_newest, active_old], "M9") == active_old
    # Not usable is still chosen (and then refused by usage_problem), not silently skipped.
    assert mandate_for_collection([suspended_newest], "M1") == suspended_newest


def test_a_candidate_s_usability_is_its_state_s() -> None:
    candidate = _candidate("MD-1", "M1", status="Draft")
    assert candidate.state == MandateState("MD-1", "M1", "Draft", None)
    problem = usage_problem(candidate.state, amount=Decimal("15.00"), maximum=candidate.maximum_amount, day=DAY)
    assert problem is not None and problem[0] == "mandate_not_active"


@pytest.mark.parametrize(
    ("batch", "reference", "expected"),
    [("BATCH-1", "REF-1", "BATCH-1"), (None, "REF-1", "REF-1"), ("", "REF-1", "REF-1"), (None, None, None)],
)
def test_batch_reference(batch: str | None, reference: str | None, expected: str | None) -> None:
    assert batch_reference(batch, reference) == expected
