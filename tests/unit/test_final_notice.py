"""The final notice promises the deadline the reminder flow keeps: the day it hands the invoice to the board, which
follows from DUESFLOW_REMINDER_INTERVAL (not a fixed 14 days), in both languages."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from domain.reminder_mail import ReminderContent, render

FINAL = ReminderContent(
    level=3,
    member_name="Anna de Vries",
    invoice="ACC-SINV-2026-00042",
    amount=Decimal("30"),
    due_date=dt.date(2026, 3, 31),
    on_date=dt.date(2026, 5, 5),
    payment_reference="ACC-SINV-2026-00042",
    association="Groene Vereniging",
)


@pytest.mark.parametrize(
    ("language", "promise"),
    [
        ("nl", "Als wij de betaling niet vóór 8 mei 2026 hebben ontvangen, draagt de ledenadministratie"),
        ("en", "If we have not received payment before 8 May 2026, the membership administration will hand"),
    ],
)
def test_final_notice_names_the_flows_deadline(language: str, promise: str) -> None:
    # A 3-day interval: the flow hands off on 8 May; the mail must not promise 14 days.
    body = render(FINAL.model_copy(update={"deadline": dt.date(2026, 5, 8)}), language).body  # type: ignore[arg-type]
    assert promise in body.replace("\n", " ")
    assert "14" not in body


@pytest.mark.parametrize("language", ["nl", "en"])
def test_final_notice_without_a_deadline_promises_no_period(language: str) -> None:
    body = render(FINAL, language).body  # type: ignore[arg-type]
    assert "14" not in body and "dagen" not in body and "days" not in body.replace("Days overdue", "")
    assert "bestuur" in body if language == "nl" else "board" in body


@pytest.mark.parametrize("level", [1, 2])
def test_only_the_final_notice_names_a_deadline(level: int) -> None:
    body = render(FINAL.model_copy(update={"level": level, "deadline": dt.date(2026, 5, 8)}), "nl").body
    assert "8 mei 2026" not in body
