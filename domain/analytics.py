"""Payment analytics rules (docs/business-rules.md §5): what a payment's fact counts, and where a cancelled payment's
fact is taken back from."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from domain.balances import signed_amount

UNSPECIFIED_MODE = "Unspecified"


def fact_mode(mode_of_payment: str | None) -> str:
    """The mode a payment is counted under: a payment without one still counts."""
    return mode_of_payment or UNSPECIFIED_MODE


def fact_amount(payment_type: str, paid_amount: Decimal) -> Decimal:
    """Money paid back (a SEPA return) lowers the day's and the member's totals."""
    return signed_amount(payment_type, paid_amount)


def in_rolled_up_month(posting_date: dt.date, rolled_up_before: dt.date | None) -> bool:
    """The payment's fact was moved into its month's summary: the roll-up took every fact posted before its day."""
    return rolled_up_before is not None and posting_date < rolled_up_before
