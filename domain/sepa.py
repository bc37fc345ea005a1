"""SEPA mandate rules (docs/business-rules.md §4) that do not need the database."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
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


@dataclass(frozen=True)
class MandateCandidate:
    """A mandate of one of the customer's members, as the ledger holds it: one a collection may use."""

    mandate_id: str
    member: str
    status: str
    expiry_date: dt.date | None
    sign_date: dt.date
    maximum_amount: Decimal | None
    sequence_state: SequenceState

    @property
    def state(self) -> MandateState:
        return MandateState(self.mandate_id, self.member, self.status, self.expiry_date)


def mandate_for_collection(candidates: Sequence[MandateCandidate], member: str | None) -> MandateCandidate | None:
    """The mandate a collection of an invoice uses: the invoice's own member's, else any mandate of the customer's
    members (a family's one mandate, often the first member's). Among several: Active ones first, then the newest
    signature; ``candidates`` come in mandate id order, which decides the rest."""
    ranked = sorted(candidates, key=lambda m: (m.status != "Active", -m.sign_date.toordinal()))
    return next((m for m in ranked if m.member == member), ranked[0] if ranked else None)


def batch_reference(sepa_batch: str | None, reference_no: str | None) -> str | None:
    """What a usage records as its batch: the ERP's SEPA batch (``custom_sepa_batch``), else the reference number."""
    return sepa_batch or reference_no
