"""Unit tests of pure logic: reminder eligibility, timing, closing reasons, overdue bands and the mail templates
(``domain.reminders``, ``domain.reminder_mail``). No database, no SMTP."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from domain.reminder_mail import ReminderContent, format_amount, format_date, message_id, render
from domain.reminders import (
    ReminderPolicy,
    closing_reason,
    days_overdue,
    first_reminder_at,
    needs_reminders,
    overdue_band,
    overdue_report,
    reminders_ended_by,
)

POLICY = ReminderPolicy()


@pytest.mark.parametrize(
    ("total", "member", "is_return", "docstatus", "expected"),
    [
        (Decimal("10.00"), "M1", False, 1, True),
        (Decimal("9.99"), "M1", False, 1, False),  # quarterly €9 dues never get reminders
        (Decimal("3.00"), "M1", False, 1, False),
        (Decimal("30.00"), None, False, 1, False),  # nobody to write to
        (Decimal("-30.00"), "M1", True, 1, False),  # a credit note
        (Decimal("30.00"), "M1", False, 2, False),  # cancelled
    ],
)
def test_who_gets_reminders(
    total: Decimal, member: str | None, is_return: bool, docstatus: int, expected: bool
) -> None:
    assert (
        needs_reminders(grand_total=total, member=member, is_return=is_return, docstatus=docstatus, policy=POLICY)
        is expected
    )


def test_the_minimum_amount_is_configurable() -> None:
    policy = ReminderPolicy(minimum_amount=Decimal("50"))
    assert not needs_reminders(grand_total=Decimal("30"), member="M", is_return=False, docstatus=1, policy=policy)


SUBMITTED = dt.datetime(2026, 3, 1, 10, 0, tzinfo=dt.UTC)


def test_first_reminder_is_due_after_the_grace_period() -> None:
    assert first_reminder_at(dt.date(2026, 3, 31), POLICY, SUBMITTED) == dt.datetime(2026, 4, 7, tzinfo=dt.UTC)
    short = ReminderPolicy(grace=dt.timedelta(seconds=5))
    assert first_reminder_at(dt.date(2026, 3, 31), short, SUBMITTED) == dt.datetime(2026, 3, 31, 0, 0, 5, tzinfo=dt.UTC)


def test_an_invoice_arriving_late_waits_the_settle_period_first() -> None:
    """A backfill of an invoice long past due: its payment may be in the same batch, so no reminder at once."""
    late = dt.datetime(2026, 6, 1, 10, 0, tzinfo=dt.UTC)
    assert first_reminder_at(dt.date(2026, 3, 31), POLICY, late) == late + dt.timedelta(days=1)


@pytest.mark.parametrize(
    ("docstatus", "outstanding", "credited", "expected"),
    [
        (1, Decimal("15.00"), Decimal("0"), None),
        (1, Decimal("0.00"), Decimal("0"), "settled"),
        (1, Decimal("-5.00"), Decimal("0"), "settled"),  # overpaid
        (1, Decimal("0.00"), Decimal("30.00"), "credited"),
        (1, Decimal("10.00"), Decimal("20.00"), None),  # partly credited: still owed
        (2, Decimal("30.00"), Decimal("0"), "cancelled"),
    ],
)
def test_closing_reason(docstatus: int, outstanding: Decimal, credited: Decimal, expected: str | None) -> None:
    assert closing_reason(docstatus=docstatus, outstanding=outstanding, credited=credited) == expected


@pytest.mark.parametrize(
    ("days", "band"),
    [(0, "Due"), (14, "Due"), (15, "Overdue"), (30, "Overdue"), (31, "Urgent"), (60, "Urgent"), (61, "Critical")],
)
def test_overdue_bands_at_their_edges(days: int, band: str) -> None:
    assert overdue_band(days) == band


def test_days_overdue_is_never_negative() -> None:
    assert days_overdue(dt.date(2026, 5, 1), dt.date(2026, 4, 1)) == 0
    assert days_overdue(dt.date(2026, 4, 1), dt.date(2026, 5, 1)) == 30


def test_overdue_report_groups_per_member_worst_first() -> None:
    on = dt.date(2026, 6, 30)
    rows = [
        {"invoice": "A", "member": "M1", "due_date": dt.date(2026, 6, 20), "outstanding": Decimal("15.00")},
        {"invoice": "B", "member": "M2", "due_date": dt.date(2026, 4, 1), "outstanding": Decimal("30.00")},
        {"invoice": "C", "member": "M1", "due_date": dt.date(2026, 5, 20), "outstanding": Decimal("25.50")},
    ]
    report = overdue_report(rows, on)
    assert [(r.member, r.invoices, r.outstanding, r.days_overdue, r.band) for r in report] == [
        ("M2", ["B"], Decimal("30.00"), 90, "Critical"),
        ("M1", ["A", "C"], Decimal("40.50"), 41, "Urgent"),
    ]


CONTENT = ReminderContent(
    level=2,
    member_name="Anna de Vries",
    invoice="ACC-SINV-2026-00042",
    amount=Decimal("1234.5"),
    due_date=dt.date(2026, 3, 31),
    on_date=dt.date(2026, 4, 21),
    payment_reference="ACC-SINV-2026-00042",
    association="Groene Vereniging",
)


def test_dutch_mail_carries_every_field() -> None:
    mail = render(CONTENT, "nl")
    assert mail.subject == "Dringende herinnering: ACC-SINV-2026-00042"
    for part in (
        "Beste Anna de Vries,",
        "€ 1.234,50",
        "31 maart 2026",
        "Dagen te laat:    21",
        "Betalingskenmerk: ACC-SINV-2026-00042",
        "Groene Vereniging",
    ):
        assert part in mail.body, part


def test_english_mail_carries_every_field() -> None:
    mail = render(CONTENT.model_copy(update={"level": 3}), "en")
    assert mail.subject == "Final Notice: ACC-SINV-2026-00042"
    for part in (
        "Dear Anna de Vries,",
        "€1,234.50",
        "31 March 2026",
        "Days overdue:      21",
        "Payment reference: ACC-SINV-2026-00042",
        "final notice",
    ):
        assert part in mail.body, part


def test_each_level_has_its_own_text() -> None:
    bodies = {render(CONTENT.model_copy(update={"level": n}), "nl").body for n in (1, 2, 3)}
    assert len(bodies) == 3


def test_unknown_level_is_refused() -> None:
    with pytest.raises(ValueError, match="level must be 1, 2 or 3"):
        render(CONTENT.model_copy(update={"level": 4}), "en")


def test_formatting_helpers() -> None:
    assert format_amount(Decimal("15"), "nl") == "€ 15,00"
    assert format_amount(Decimal("15"), "en") == "€15.00"
    assert format_date(dt.date(2026, 1, 5), "en") == "5 January 2026"


def test_message_id_is_stable_per_invoice_and_level() -> None:
    first = message_id("site.nl", "INV-1", 1, "example.nl")
    assert first == message_id("site.nl", "INV-1", 1, "example.nl")
    assert first != message_id("site.nl", "INV-1", 2, "example.nl")
    assert first != message_id("other.nl", "INV-1", 1, "example.nl")
    assert first.startswith("<reminder-1-") and first.endswith("@example.nl>")


def test_a_payment_ends_the_running_flows_of_the_invoices_it_settles() -> None:
    from domain.validation import InvoiceBalance

    def balance(name: str, outstanding: str, reminding: bool = True) -> InvoiceBalance:
        return InvoiceBalance(
            name=name, customer="C", docstatus=1, outstanding=Decimal(outstanding), reminding=reminding
        )

    balances = {
        "FULL": balance("FULL", "30.00"),
        "PART": balance("PART", "30.00"),
        "QUIET": balance("QUIET", "15.00", reminding=False),  # no running flow: nothing to tell
    }
    allocations = {"FULL": Decimal("30.00"), "PART": Decimal("10.00"), "QUIET": Decimal("15.00"), "GONE": Decimal(5)}
    assert reminders_ended_by(allocations, balances) == ["FULL"]
