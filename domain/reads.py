"""What the ledger reads answer the ERP: one pydantic model per kind of row, field names as the ledger's columns.

Fields are attributes (``summary.total_paid``). ``row["total_paid"]`` and ``"total_paid" in row`` work too, for code
written when these reads returned plain dicts; new code uses attributes.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field


class ReadModel(BaseModel):
    """Base of the read results: a pydantic model that also answers ``row["field"]``."""

    def __getitem__(self, key: str) -> Any:
        if key not in type(self).model_fields:
            raise KeyError(key)
        return getattr(self, key)

    def __contains__(self, key: object) -> bool:
        return key in type(self).model_fields


class MemberSummary(ReadModel):
    """``member_summary``: totals over every submitted invoice and payment of the member's customer account."""

    member: str
    total_invoices: int
    unpaid_invoices: int
    total_invoiced: Decimal
    total_outstanding: Decimal
    total_paid: Decimal
    last_payment_date: dt.date | None = None
    last_invoice_date: dt.date | None = None
    active_mandates: int


class MandateUsage(ReadModel):
    """One collection under a mandate (``Mandate.usages``)."""

    id: int
    site: str
    mandate_id: str
    invoice: str
    payment_entry: str
    amount: Decimal
    sequence_type: str = Field(description="FRST, RCUR, OOFF or FNAL")
    status: str = Field(description="Collected, Returned or Cancelled")
    collection_date: dt.date | None = None
    batch_reference: str | None = None
    return_reason: str | None = Field(None, description="the SEPA R-code of a return")
    returned_by: str | None = Field(None, description="the return payment that marked it Returned")
    updated_at: dt.datetime


class Mandate(ReadModel):
    """``mandate``: a SEPA mandate with its usages and sequence state. The IBAN is not part of it: only its last
    four characters (``iban_last4``)."""

    site: str
    mandate_id: str
    member: str
    account_holder_name: str | None = None
    iban_last4: str
    bic: str | None = None
    sign_date: dt.date
    expiry_date: dt.date | None = None
    status: str
    frequency: str | None = None
    maximum_amount: Decimal | None = None
    last_collection_date: dt.date | None = None
    sequence_state: str = Field(description="FRST until the first collection, then RCUR")
    updated_at: dt.datetime
    usages: list[MandateUsage] = Field(default_factory=list)


class DailyTotal(ReadModel):
    """``daily_totals``: payments of one day and mode of payment (money paid back counts negative)."""

    posting_date: dt.date
    mode_of_payment: str
    count: int
    total: Decimal


class MemberTotals(ReadModel):
    """``member_totals``: what the member's customer account paid, over all time."""

    member: str
    count: int
    paid_to_date: Decimal
    last_payment_date: dt.date | None = None


class MethodStatistic(ReadModel):
    """``method_statistics``: payments per mode of payment, over all time."""

    mode_of_payment: str
    count: int
    total: Decimal
    average: Decimal


class AuditRecord(ReadModel):
    """``audit_trail``: one record of the append-only audit trail."""

    id: int
    at: dt.datetime
    actor: str
    site: str
    doctype: str
    name: str
    event: str
    step: str | None = None
    severity: str
    amount: Decimal | None = None
    mode_of_payment: str | None = None
    outcome: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)
    workflow_id: str | None = None
    run_id: str | None = None
    dedupe_key: str


class HandedOffInvoice(ReadModel):
    """``handed_off``: an invoice whose final notice went unanswered, for the board."""

    invoice: str
    member: str
    levels_sent: int
    handed_off_at: dt.datetime | None = None
    due_date: dt.date | None = None
    grand_total: Decimal
    outstanding: Decimal


class DueCollectionRetry(ReadModel):
    """``due_collection_retries``: a retry collection the ERP should present (after a transient SEPA return)."""

    invoice: str
    mandate_id: str | None = None
    attempt: int | None = None
    due_date: dt.date | None = None
    reason_code: str
    return_payment: str
    customer: str
    member: str | None = None
    outstanding: Decimal


class ReturnNeedingAttention(ReadModel):
    """``returns_needing_attention``: a SEPA return a person must handle (refund request, final code, retries
    exhausted)."""

    site: str
    return_payment: str
    invoice: str
    mandate_id: str | None = None
    reason_code: str
    decision: str = Field(description="manual, stop or escalate")
    attempt: int | None = None
    due_date: dt.date | None = None
    status: str
    decided_at: dt.datetime
    updated_at: dt.datetime
