"""The reminder activity gives the final notice the flow's own deadline: one reminder interval after it is sent
(``ReminderCall.next_due``, from the policy that travels in the workflow input)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine

from activities.reminders import ReminderActivities
from domain.reminder_mail import message_id
from infra.mail_sink import MailSink
from tests.integration.test_reminder_activities import AT, acts, call, env

__all__ = ["acts"]  # the fixture, shared with the reminder activity tests


def test_final_notice_promises_the_hand_off_day(
    acts: ReminderActivities, engine: Engine, site: str, smtp_sink: MailSink
) -> None:
    # DUESFLOW_REMINDER_INTERVAL=P3D: the flow hands the invoice off 3 days after the final notice.
    final = call(site, 3).model_copy(update={"next_due": AT + dt.timedelta(days=3)})
    assert env(site).run(acts.send_reminder, final).outcome == "sent"
    [mail] = smtp_sink.with_message_id(message_id(site, "INV-1", 3, "duesflow.local"))
    body = " ".join(mail.get_content().split())
    assert "Als wij de betaling niet vóór 10 april 2026 hebben ontvangen" in body, body
    assert "14 dagen" not in body
