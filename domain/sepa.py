"""SEPA mandate rules (docs/business-rules.md §4) that do not need the database."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from domain.mandates import MandateState

SequenceState = str  # FRST, RCUR or CLOSED


def sequence_type_for(state: SequenceState) -> str:
    """FRST until a first collection was presented, then RCUR (RCUR-first is accepted: rulebook 2016)."""
    return "FRST" if state == "FRST" else "RCUR"


def state_after_collection(state: SequenceState, sequence_type: str) -> SequenceState:
    if sequence_type in ("FNAL", "OOFF"):
        return "CLOSED"
    return "RCUR" if state == "FRST" else state


def usage_problem(
    mandate: MandateState | None,
    *,
    amount: Decimal,
    maximum: Decimal | None,
    day: dt.date,
    sequence_state: SequenceState = "FRST",
) -> tuple[str, str] | None:
    """Why a collection cannot be recorded against this mandate, as (code, message); None when it can."""
    if mandate is None:
        return "no_mandate", "no SEPA mandate is on record for the member"
    if sequence_state == "CLOSED":
        return "mandate_closed", f"mandate {mandate.mandate_id} was closed by a final (FNAL/OOFF) collection"
    if not mandate.usable_on(day):
        return "mandate_not_active", f"mandate {mandate.mandate_id} is {mandate.status} on {day}"
    if maximum is not None and amount > maximum:
        return "exceeds_mandate_maximum", f"{amount} exceeds the mandate maximum {maximum}"
    return None
