"""Which payments are members' (docs/business-rules.md §2): the rule ``PaymentEntry.is_member_payment`` states for a
document, for a payment as the ledger holds it."""

from __future__ import annotations


def is_member_payment(payment_type: str | None, party_type: str | None) -> bool:
    """Only money received from a customer runs the member pipeline (bug B9: the rest is just audited)."""
    return payment_type == "Receive" and party_type == "Customer"
