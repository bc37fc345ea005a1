"""The demo association's fixed figures: its ledger accounts, dues plans, shares and payer profiles."""

from __future__ import annotations

from dataclasses import dataclass

COMPANY = "Duesflow Demo Vereniging"
_ABBR = "DDV"
RECEIVABLE_ACCOUNT = f"13500 - Te ontvangen contributies - {_ABBR}"
BANK_ACCOUNT = f"1100 - Bank - {_ABBR}"
DUES_INCOME_ACCOUNT = f"8000 - Contributies - {_ABBR}"
EXTRA_INCOME_ACCOUNT = f"8100 - Extra bijdragen - {_ABBR}"
COST_CENTER = f"Main - {_ABBR}"
SCHEDULER_USER = "Administrator"

SEPA = "SEPA Direct Debit"
BANK_TRANSFER = "Bank Transfer"

DUE_DAYS = 30
MANDATE_SHARE = 0.75
UNRECONCILED_SHARE = 0.30
FAMILY_SHARE = 0.10
JOINER_SHARE = 0.15  # members whose membership starts inside the invoice window
EXTRA_INVOICE_SHARE = 0.25
PARTIAL_SHARE = 0.15  # bank transfers of ≥ €15 that pay only part of the invoice
MAXIMUM_MANDATE_AMOUNT = 150.0
SEPA_BATCH_DAYS = (6, 21)  # collection days of the month
PAYDAY = 25  # late bank-transfer payers tend to pay on payday, several invoices at once


@dataclass(frozen=True)
class Plan:
    frequency: str  # also the mandate's "Collection Frequency"
    item_code: str
    cents: int
    months: int
    weight: int


PLANS: tuple[Plan, ...] = (
    Plan("Monthly", "Membership Dues - Monthly", 1500, 1, 45),
    Plan("Quarterly", "Membership Dues - Quarterly", 900, 3, 25),
    Plan("Annual", "Membership Dues - Annual", 3000, 12, 30),
)
EXTRA_ITEM = "Extra Contribution"
ROUND_AMOUNTS: tuple[int, ...] = (25, 25, 30, 35, 40, 50, 50, 60, 75, 75, 100, 100, 125, 150)

# Share of members paying on time: 95% / 80% / 60% / 40%. Direct-debit payers are mostly the reliable kind.
PROFILES: tuple[float, ...] = (0.95, 0.80, 0.60, 0.40)
PROFILE_WEIGHTS_SEPA: tuple[int, ...] = (55, 30, 10, 5)
PROFILE_WEIGHTS_OTHER: tuple[int, ...] = (25, 30, 25, 20)
LATE_SHARE = 0.65  # of the invoices not paid on time, this share is paid late; the rest stays unpaid
