"""Payment reminder rules (docs/business-rules.md §6) that need neither the database nor the clock: who gets
reminders, when each level is due, and the overdue bands of the report."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from domain.reads import ReadModel

LEVEL_TITLES = {1: "Friendly Reminder", 2: "Urgent Notice", 3: "Final Notice"}
FINAL_LEVEL = max(LEVEL_TITLES)

# What a dunning case can be; all but the first two end the flow.
# "stopped": an operator cancelled the flow (temporal workflow cancel); the invoice itself may still be owed.
CaseState = Literal["scheduled", "reminding", "settled", "credited", "cancelled", "handed_off", "stopped"]
ClosingReason = Literal["settled", "credited", "cancelled"]
OPEN_STATES = ("scheduled", "reminding")
CLOSED_STATES = ("settled", "credited", "cancelled", "handed_off", "stopped")

Band = Literal["Critical", "Urgent", "Overdue", "Due"]


class ReminderPolicy(BaseModel):
    """The intervals a flow runs with; carried in the workflow input so a running flow never changes its mind."""

    model_config = ConfigDict(frozen=True)

    minimum_amount: Decimal = Decimal("10.00")
    grace: dt.timedelta = dt.timedelta(days=7)
    interval: dt.timedelta = dt.timedelta(days=14)
    language: Literal["nl", "en"] = "nl"
    # The first reminder never leaves sooner than this after the invoice reached duesflow: a backfill, or a bank
    # statement import that records payments after their invoices, must not remind members who already paid.
    settle: dt.timedelta = dt.timedelta(days=1)


def needs_reminders(
    *, grand_total: Decimal, member: str | None, is_return: bool, docstatus: int, policy: ReminderPolicy
) -> bool:
    """Submitted invoices (not credit notes) of at least the minimum amount that name a member to write to; the
    €3 monthly and €9 quarterly dues never get reminders."""
    return docstatus == 1 and not is_return and member is not None and grand_total >= policy.minimum_amount


def reminder_recipient(invoice_member: str | None, customer_members: list[str]) -> str | None:
    """Who an invoice's reminders are written to: the member it names, else the first member of its customer."""
    return invoice_member or (customer_members[0] if customer_members else None)


ReminderTouch = tuple[str, Literal["cancelled", "credit_note"]]


def touched_by(*, name: str, docstatus: int, is_return: bool, return_against: str | None) -> ReminderTouch | None:
    """The reminder flow an accepted invoice document speaks to, and why: a cancellation tells its own flow, a credit
    note the flow of the invoice it credits. None: an invoice of its own, which may start a flow
    (``needs_reminders``)."""
    if docstatus == 2:
        return name, "cancelled"
    if is_return and return_against:
        return return_against, "credit_note"
    return None


def stopped_with_submission(*, accepted: bool, docstatus: int, is_return: bool) -> bool:
    """Cancelling an accepted invoice's submission (an operator, the job API) stops its reminder flow too."""
    return accepted and docstatus != 2 and not is_return


def first_reminder_at(due_date: dt.date, policy: ReminderPolicy, started: dt.datetime) -> dt.datetime:
    """Level 1 is due at the start (UTC) of the due date plus the grace period, and not before the invoice has
    been in duesflow for the settle period (``started``: when its flow began)."""
    return max(dt.datetime.combine(due_date, dt.time(0), tzinfo=dt.UTC) + policy.grace, started + policy.settle)


def closing_reason(*, docstatus: int, outstanding: Decimal, credited: Decimal) -> ClosingReason | None:
    """Why a reminder flow ends now, or None while the invoice is still owed."""
    if docstatus == 2:
        return "cancelled"
    if outstanding <= 0:
        return "credited" if credited > 0 else "settled"
    return None


def reminders_ended_by(allocations: dict[str, Decimal], balances: dict[str, object]) -> list[str]:
    """Invoices whose running reminder flow a payment ends: it brings their outstanding (before it) to zero or
    below. ``balances`` maps invoice names to objects with ``outstanding`` and ``reminding``."""
    ended = []
    for name, allocated in sorted(allocations.items()):
        balance = balances.get(name)
        if balance is not None and balance.reminding and balance.outstanding - allocated <= 0:  # type: ignore[attr-defined]
            ended.append(name)
    return ended


def days_overdue(due_date: dt.date, on_date: dt.date) -> int:
    return max((on_date - due_date).days, 0)


def overdue_band(days: int) -> Band:
    """> 60 days Critical, > 30 Urgent, > 14 Overdue, else Due."""
    if days > 60:
        return "Critical"
    if days > 30:
        return "Urgent"
    if days > 14:
        return "Overdue"
    return "Due"


class SentReminder(ReadModel):
    """One reminder level of an invoice (``ReminderView.sent``): when it went out and under which Message-ID."""

    level: int
    outcome: str = Field(description="sent, or no_address (the member has no e-mail address)")
    sent_at: dt.datetime
    message_id: str
    days_overdue: int
    amount: Decimal


class ReminderView(ReadModel):
    """What ``reminders(site, invoice)`` answers: the levels sent, what comes next, and the case's state."""

    site: str
    invoice: str
    member: str
    state: CaseState
    levels_sent: list[int] = Field(default_factory=list)
    next_level: int | None = None
    next_due: dt.datetime | None = None
    sent: list[SentReminder] = Field(default_factory=list)


class ReminderInput(BaseModel):
    """The reminder flow of one invoice (a child of the invoice's workflow)."""

    model_config = ConfigDict(frozen=True)

    site: str
    actor: str
    invoice: str
    member: str
    due_date: dt.date
    policy: ReminderPolicy = ReminderPolicy()
    # A backfilled invoice's flow works at BULK priority, like the invoice's own steps.
    bulk: bool = False


class ReminderCall(BaseModel):
    """One call of a reminder activity. ``at`` is the workflow's time: activities never read the clock for dates
    that end up in a mail or the ledger, so a replayed or time-skipped flow writes the same values."""

    model_config = ConfigDict(frozen=True)

    site: str
    actor: str
    invoice: str
    member: str
    at: dt.datetime
    level: int = 0
    next_due: dt.datetime | None = None
    language: Literal["nl", "en"] = "nl"


Outcome = Literal["open", "sent", "already_sent", "no_address", "refused", "closed", "handed_off"]


class ReminderOutcome(BaseModel):
    outcome: Outcome
    state: CaseState
    levels_sent: int = 0
    message_id: str | None = None


class ReminderStatus(BaseModel):
    """The flow's own view (a query): no I/O, so it answers even while the database is down."""

    invoice: str
    state: CaseState
    levels_sent: int = 0
    next_level: int | None = None
    next_due: dt.datetime | None = None


class OverdueLine(BaseModel):
    member: str | None
    invoices: list[str]
    outstanding: Decimal
    oldest_due_date: dt.date
    days_overdue: int
    band: Band


def overdue_report(open_invoices: list[dict[str, object]], on_date: dt.date) -> list[OverdueLine]:
    """Per member: what is still owed on ``on_date`` and the band of the oldest unpaid invoice; worst first."""
    by_member: dict[str | None, list[dict[str, object]]] = {}
    for row in open_invoices:
        by_member.setdefault(row["member"], []).append(row)  # type: ignore[arg-type]
    lines = []
    for member, rows in by_member.items():
        oldest = min(r["due_date"] for r in rows)  # type: ignore[type-var]
        days = days_overdue(oldest, on_date)  # type: ignore[arg-type]
        lines.append(
            OverdueLine(
                member=member,
                invoices=sorted(str(r["invoice"]) for r in rows),
                outstanding=sum((Decimal(str(r["outstanding"])) for r in rows), Decimal("0.00")),
                oldest_due_date=oldest,  # type: ignore[arg-type]
                days_overdue=days,
                band=overdue_band(days),
            )
        )
    return sorted(lines, key=lambda line: (-line.days_overdue, str(line.member)))
