"""What to do after a SEPA Direct Debit Return (docs/business-rules.md §4), as pure rules: the R-code decides between a
retry collection, stopping, and a person's judgement."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

# Codes as docs/business-rules.md §4 lists them. A code not listed goes to a person: guessing "transient"
# would debit a member again against their bank's word, guessing "final" would drop a collectable claim.
TRANSIENT_CODES = {"AM04": "insufficient funds", "MS03": "reason not specified"}
FINAL_CODES = {"AC04": "account closed", "MD01": "no mandate", "MD07": "debtor deceased"}
MANUAL_CODES = {"MD06": "refund requested by the debtor"}

Decision = Literal["retry", "stop", "manual", "escalate"]
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
