"""What an invoice still owes (docs/business-rules.md §1, bugs B6/B7): computed from the ledger's sums, never stored.

The one rule every step and read applies. The ledger hands over the sums (``paid``, ``credited``); set-based reads
that filter or total many invoices in one statement use its SQL twin in ``ledger/documents.py``, which
tests/integration/test_outstanding_rule.py holds to the same answers.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal


def signed_amount(payment_type: str, amount: Decimal) -> Decimal:
    """Money received counts for the invoice (or account); money paid back (payment type Pay: a SEPA return)
    counts against it."""
    return -amount if payment_type == "Pay" else amount


def outstanding_of(grand_total: Decimal, paid: Decimal, credited: Decimal) -> Decimal:
    """Grand total − Σ allocations of submitted payments (signed) − Σ submitted credit notes (positive)."""
    return grand_total - paid - credited


def owes(outstanding: Decimal) -> bool:
    """The invoice still owes money; at zero or below it is settled (paid, credited or overpaid)."""
    return outstanding > 0


@dataclass(frozen=True)
class InvoiceStanding:
    """One invoice as a reminder step sees it: the ledger's facts, and what it still owes from them."""

    docstatus: int
    due_date: dt.date  # the due date, else the posting date
    grand_total: Decimal
    paid: Decimal
    credited: Decimal

    @property
    def outstanding(self) -> Decimal:
        return outstanding_of(self.grand_total, self.paid, self.credited)
