"""Sending e-mail over SMTP. Built once at worker start from settings and handed to the activities that mail."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate

from config.settings import Settings


class SmtpMailer:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    @property
    def sender_domain(self) -> str:
        return self._settings.smtp_sender.rsplit("@", 1)[1]

    def compose(self, *, to: str, subject: str, body: str, message_id: str) -> EmailMessage:
        msg = EmailMessage()
        msg["From"] = f"{self._settings.association_name} <{self._settings.smtp_sender}>"
        msg["To"] = to
        msg["Subject"] = subject
        msg["Date"] = formatdate(localtime=False, usegmt=True)
        msg["Message-ID"] = message_id
        msg.set_content(body)
        return msg

    def send(self, msg: EmailMessage) -> None:
        """One SMTP transaction per message; raises on any refusal, so the activity's retry policy applies."""
        s = self._settings
        # The system's trust store, or a private CA's file (an association's own mail server).
        context = ssl.create_default_context(cafile=s.smtp_ca_file)
        smtp: smtplib.SMTP
        if s.smtp_security == "tls":
            smtp = smtplib.SMTP_SSL(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout_seconds, context=context)
        else:
            smtp = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout_seconds)
        with smtp:
            if s.smtp_security == "starttls":
                smtp.starttls(context=context)
            if s.smtp_username:
                password = s.smtp_password.get_secret_value() if s.smtp_password else ""
                smtp.login(s.smtp_username, password)
            refused = smtp.send_message(msg)
            if refused:
                # Only the count: the refused addresses are personal data.
                raise smtplib.SMTPRecipientsRefused(dict.fromkeys(range(len(refused)), (550, b"refused")))
