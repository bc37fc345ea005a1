"""What to do after a SEPA Direct Debit Return (docs/business-rules.md §4), as pure rules: the R-code decides between a
retry collection, stopping, and a person's judgement."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

# Codes as docs/business-rules.md §4 lists them. A code not listed goes to a person: guessing "transient"
# would debit a member again against their bank's word, guessing "final" would drop a collectable claim.
TRANSIENT_CODES = {"AM04": "insufficient funds", "MS03": "reason not specified"}
FINAL_CODES = {"AC04": "account closed", "MD01": "no mandate", "MD07": "debtor deceased"}
MANUAL_CODES = {"MD06": "refund requested by the debtor"}

SEPA_RETURN_MODE = "SEPA Direct Debit Return"

Decision = Literal["retry", "stop", "manual", "escalate"]
# Decisions a person must act on; only a retry is handled without one.
ATTENTION_DECISIONS: tuple[Decision, ...] = ("manual", "stop", "escalate")
DEFAULT_OFFSETS = (3, 7, 14)


@dataclass(frozen=True)
class ReturnDecision:
    decision: Decision
    reason_code: str
    attempt: int | None = None  # 1-based number of the retry collection
    due_date: dt.date | None = None

    @property
    def severity(self) -> str:
        return "info" if self.decision == "retry" else "warning"

    @property
    def initial_status(self) -> str:
        """A retry waits to be collected (``scheduled``); every other decision waits for a person (``open``)."""
        return "open" if self.decision in ATTENTION_DECISIONS else "scheduled"


@dataclass(frozen=True)
class CollectedUsage:
    """A Collected usage of the returned invoice, as the ledger holds it."""

    id: int
    mandate_id: str
    amount: Decimal
    collection_date: dt.date | None


@dataclass(frozen=True)
class ReturnedCollection:
    """What a return did to one invoice: the mandate whose collection it answered (if any) and the decision."""

    invoice: str
    mandate_id: str | None
    decision: ReturnDecision


def is_sepa_return(mode_of_payment: str | None, party_type: str | None) -> bool:
    """A bounced direct debit: money going back to the member (a customer). It reverses the collection it
    references."""
    return mode_of_payment == SEPA_RETURN_MODE and party_type == "Customer"


def return_problem(reason_code: str | None) -> tuple[str, str] | None:
    """Why a return cannot be recorded, as (code, message); None when it can."""
    if not reason_code:
        return "missing_return_reason", "a SEPA return needs its reason code (e.g. AM04)"
    return None


def answered_collection(collected: Sequence[CollectedUsage], returned_amount: Decimal) -> CollectedUsage | None:
    """The collection a return answers: among the invoice's Collected usages one of the returned amount first, then
    the newest (collection date, then the last recorded). A usage without a collection date counts as newest."""

    def rank(u: CollectedUsage) -> tuple[bool, int, int]:
        newest_first = -u.collection_date.toordinal() if u.collection_date else -dt.date.max.toordinal() - 1
        return (u.amount != returned_amount, newest_first, -u.id)

    return min(collected, key=rank, default=None)


def next_business_day(day: dt.date) -> dt.date:
    """The day itself on Monday to Friday, else the Monday after (SEPA settles on business days)."""
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return day


def retry_due(returned_on: dt.date, offset_days: int) -> dt.date:
    return next_business_day(returned_on + dt.timedelta(days=offset_days))


def decide(
    reason_code: str, returned_on: dt.date, earlier_retries: int, offsets: Sequence[int] = DEFAULT_OFFSETS
) -> ReturnDecision:
    """The decision for one returned collection. ``earlier_retries`` counts the retry collections already
    scheduled for the same invoice by earlier returns: the n-th retry is due ``offsets[n-1]`` days after this
    return; once all were tried, the claim is escalated."""
    code = reason_code.strip().upper()
    if code in FINAL_CODES:
        return ReturnDecision("stop", code)
    if code not in TRANSIENT_CODES:
        return ReturnDecision("manual", code)
    if earlier_retries >= len(offsets):
        return ReturnDecision("escalate", code)
    attempt = earlier_retries + 1
    return ReturnDecision("retry", code, attempt, retry_due(returned_on, offsets[attempt - 1]))
