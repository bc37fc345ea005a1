"""Reminder activities on the real PostgreSQL and a real SMTP server on loopback (aiosmtpd): each send is tried
again, as a retry or replay would, and concurrently, as an overlapping retry would; a level goes out once."""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, update
from temporalio.exceptions import ApplicationError

from activities.mailer import SmtpMailer
from activities.reminders import ReminderActivities
from config.settings import Settings
from domain.reminder_mail import message_id
from domain.reminders import ReminderCall
from infra.embedded import free_port
from infra.mail_sink import MailSink
from ledger.schema import audit_records, members, reminder_messages
from starter.reference_data import load_reference_data
from tests import builders as b
from tests.activity_env import WorkerEnvironment, activity_env
from tests.integration.test_activities import record

AT = dt.datetime(2026, 4, 7, 9, 0, tzinfo=dt.UTC)


def env(site: str) -> WorkerEnvironment:
    return activity_env(f"{site}:Sales Invoice:INV-1:reminders")


def call(site: str, level: int = 0, member: str = "M1") -> ReminderCall:
    return ReminderCall(
        site=site, actor="t", invoice="INV-1", member=member, at=AT, level=level, next_due=AT + dt.timedelta(days=14)
    )


@pytest.fixture
def acts(engine: Engine, settings: Settings, site: str) -> ReminderActivities:
    members = [b.customer("C1"), b.member("M1", "C1"), b.customer("C2"), {**b.member("M2", "C2"), "email": None}]
    load_reference_data(engine, members, site=site, currency="EUR", today=dt.date.today())
    assert record(engine, site, b.invoice("INV-1", "C1", 30.0, member_name="M1", due_date="2026-03-31")).accepted
    a = ReminderActivities(engine, SmtpMailer(settings), "Testvereniging")
    env(site).run(a.open_dunning_case, call(site))
    return a


def sent(engine: Engine, site: str) -> list[Any]:
    with engine.connect() as conn:
        return conn.execute(select(reminder_messages).where(reminder_messages.c.site == site)).all()


def test_a_level_is_sent_once_however_often_it_is_called(
    acts: ReminderActivities, engine: Engine, site: str, smtp_sink: MailSink
) -> None:
    first = env(site).run(acts.send_reminder, call(site, 1))
    again = env(site).run(acts.send_reminder, call(site, 1))
    assert (first.outcome, again.outcome) == ("sent", "already_sent")
    assert again.message_id == first.message_id == message_id(site, "INV-1", 1, "duesflow.local")
    assert len(smtp_sink.with_message_id(first.message_id)) == 1
    [row] = sent(engine, site)
    assert (row.level, row.outcome, row.recipient, row.days_overdue, row.sent_at) == (1, "sent", "m1@example.nl", 7, AT)


def test_overlapping_attempts_send_once(
    acts: ReminderActivities, engine: Engine, site: str, smtp_sink: MailSink
) -> None:
    with ThreadPoolExecutor(4) as pool:
        outcomes = list(pool.map(lambda _: env(site).run(acts.send_reminder, call(site, 2)).outcome, range(4)))
    assert sorted(outcomes) == ["already_sent"] * 3 + ["sent"]
    assert len(smtp_sink.with_message_id(message_id(site, "INV-1", 2, "duesflow.local"))) == 1


def test_smtp_outage_records_nothing_and_the_retry_sends(
    acts: ReminderActivities, engine: Engine, settings: Settings, site: str, smtp_sink: MailSink
) -> None:
    down = ReminderActivities(engine, SmtpMailer(settings.model_copy(update={"smtp_port": free_port()})), "T")
    with pytest.raises(ApplicationError) as failure:
        env(site).run(down.send_reminder, call(site, 1))
    assert not failure.value.non_retryable
    assert sent(engine, site) == []
    assert env(site).run(acts.send_reminder, call(site, 1)).outcome == "sent"
    assert len(smtp_sink.with_message_id(message_id(site, "INV-1", 1, "duesflow.local"))) == 1


def test_member_without_address_is_recorded_and_flagged(engine: Engine, acts: ReminderActivities, site: str) -> None:
    assert record(engine, site, b.invoice("INV-1B", "C2", 30.0, member_name="M2")).accepted
    c = call(site, 1, member="M2").model_copy(update={"invoice": "INV-1B"})
    env(site).run(acts.open_dunning_case, c)
    assert env(site).run(acts.send_reminder, c).outcome == "no_address"
    with engine.connect() as conn:
        severity = conn.execute(
            select(audit_records.c.severity).where(
                audit_records.c.site == site, audit_records.c.event == "reminder_no_address"
            )
        ).scalar_one()
    assert severity == "warning"


def test_an_address_that_cannot_be_sent_to_counts_as_none(
    engine: Engine, acts: ReminderActivities, site: str, smtp_sink: MailSink
) -> None:
    """Stored before imports checked addresses: a CR/LF would fail every attempt for good. It is recorded as no
    address (and audited) at once, and no mail leaves."""
    with engine.begin() as conn:
        conn.execute(
            update(members)
            .where(members.c.site == site, members.c.name == "M1")
            .values(email="m1@example.nl\r\nBcc: x")
        )
    outcome = env(site).run(acts.send_reminder, call(site, 1))
    assert outcome.outcome == "no_address"
    [row] = sent(engine, site)
    assert (row.outcome, row.recipient) == ("no_address", None)
    assert smtp_sink.with_message_id(message_id(site, "INV-1", 1, "duesflow.local")) == []


def test_a_settled_invoice_gets_no_reminder(
    acts: ReminderActivities, engine: Engine, site: str, smtp_sink: MailSink
) -> None:
    assert record(engine, site, b.payment("PAY-1", "C1", 30.0, [("INV-1", 30.0)])).accepted
    outcome = env(site).run(acts.send_reminder, call(site, 1))
    assert (outcome.outcome, outcome.state) == ("closed", "settled")
    assert sent(engine, site) == []
    assert smtp_sink.with_message_id(message_id(site, "INV-1", 1, "duesflow.local")) == []
    # Closing is recorded once, however often the flow asks again.
    env(site).run(acts.check_invoice, call(site))
    with engine.connect() as conn:
        closings = conn.execute(
            select(func.count()).where(audit_records.c.site == site, audit_records.c.event == "reminders_ended_settled")
        ).scalar_one()
    assert closings == 1
