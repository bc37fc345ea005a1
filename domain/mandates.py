"""When a SEPA mandate can be collected on (docs/business-rules.md §2 rule 6, §3 summary, §4): one rule, applied
by step 1's validation, the collection step and the member summary alike."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

# Statuses the daily lifecycle still acts on (expiry, 36 months dormant, the warning before expiry); the others are
# final or not yet in force (docs/business-rules.md §4).
LIFECYCLE_STATUSES = ("Active", "Suspended")
# Usages that count as a presented collection for dormancy: a returned collection was presented too.
PRESENTED_USAGE_STATUSES = ("Collected", "Returned")


def usable(status: str, expiry_date: dt.date | None, day: dt.date) -> bool:
    """Active, and not expired on ``day`` (a mandate expiring that day is still usable)."""
    return status == "Active" and (expiry_date is None or expiry_date >= day)


@dataclass(frozen=True)
class MandateState:
    """A mandate as the ledger holds it, as far as usability goes."""

    mandate_id: str
    member: str
    status: str
    expiry_date: dt.date | None

    def usable_on(self, day: dt.date) -> bool:
        return usable(self.status, self.expiry_date, day)


def usable_count(mandates: Iterable[MandateState], day: dt.date) -> int:
    """How many of these mandates are usable on ``day`` (the summary's ``active_mandates``)."""
    return sum(1 for m in mandates if m.usable_on(day))
