"""The SMTP mailer against real SMTP servers on loopback (aiosmtpd): plain, STARTTLS and implicit TLS with a
certificate from a throwaway CA (trustme), and a login. A refused login or an untrusted certificate fails loudly."""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from activities.mailer import SmtpMailer
from config.settings import Settings
from infra.embedded import free_port


class Inbox:
    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # aiosmtpd calls hooks by name
        self.messages.append(envelope.content)
        return "250 OK"


def only_treasurer(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (b"kas", b"geheim")
    return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535 itself


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[trustme.CA, Path]]:
    authority = trustme.CA()
    pem = tmp_path_factory.mktemp("ca") / "ca.pem"
    authority.cert_pem.write_to_path(str(pem))
    yield authority, pem


def server_context(authority: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(context)
    return context


def serve(inbox: Inbox, **options: Any) -> Controller:
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port(), **options)
    controller.start()
    return controller


def mailer(controller: Controller, **settings: Any) -> SmtpMailer:
    return SmtpMailer(Settings(smtp_host="127.0.0.1", smtp_port=controller.port, **settings))


def message(m: SmtpMailer) -> EmailMessage:
    return m.compose(to="lid@example.nl", subject="Test", body="Hallo", message_id="<t-1@duesflow.local>")


def test_starttls_with_a_login(ca: tuple[trustme.CA, Path]) -> None:
    authority, pem = ca
    inbox = Inbox()
    controller = serve(
        inbox,
        tls_context=server_context(authority),
        require_starttls=True,
        authenticator=only_treasurer,
        auth_required=True,
    )
    try:
        m = mailer(
            controller, smtp_security="starttls", smtp_ca_file=str(pem), smtp_username="kas", smtp_password="geheim"
        )
        m.send(message(m))
        assert len(inbox.messages) == 1 and b"Message-ID: <t-1@duesflow.local>" in inbox.messages[0]
        wrong = mailer(
            controller, smtp_security="starttls", smtp_ca_file=str(pem), smtp_username="kas", smtp_password="fout"
        )
        with pytest.raises(smtplib.SMTPAuthenticationError):
            wrong.send(message(wrong))
        untrusted = mailer(controller, smtp_security="starttls", smtp_username="kas", smtp_password="geheim")
        with pytest.raises(ssl.SSLCertVerificationError):
            untrusted.send(message(untrusted))
        assert len(inbox.messages) == 1
    finally:
        controller.stop()


def test_implicit_tls(ca: tuple[trustme.CA, Path]) -> None:
    authority, pem = ca
    inbox = Inbox()
    controller = serve(inbox, ssl_context=server_context(authority))
    try:
        m = mailer(controller, smtp_security="tls", smtp_ca_file=str(pem))
        m.send(message(m))
        assert len(inbox.messages) == 1
    finally:
        controller.stop()
