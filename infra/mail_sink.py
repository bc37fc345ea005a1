"""A local SMTP sink (aiosmtpd): a real SMTP server on loopback that keeps every message it accepts, and writes it
to a directory as a ``.eml`` file when given one. The demo stack and the tests send reminders to it."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from infra.embedded import free_port


class MailSink:
    def __init__(
        self, host: str, port: int, directory: Path | None, on_message: Callable[[EmailMessage], None] | None = None
    ) -> None:
        self.host = host
        self.port = port
        self.directory = directory
        self.on_message = on_message
        self._messages: list[EmailMessage] = []
        self._lock = threading.Lock()
        self._controller: Controller | None = None

    @property
    def messages(self) -> list[EmailMessage]:
        with self._lock:
            return list(self._messages)

    def with_message_id(self, message_id: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["Message-ID"] == message_id]

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # aiosmtpd calls its hooks by name
        msg = message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        with self._lock:
            self._messages.append(msg)
            count = len(self._messages)
        if self.directory is not None:
            (self.directory / f"{count:05d}.eml").write_bytes(envelope.original_content or envelope.content)
        if self.on_message is not None:
            self.on_message(msg)
        return "250 Message accepted for delivery"

    @classmethod
    def start(
        cls,
        directory: Path | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        on_message: Callable[[EmailMessage], None] | None = None,
    ) -> MailSink:
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)
        sink = cls(host, port or free_port(), directory, on_message)
        sink._controller = Controller(sink, hostname=host, port=sink.port)
        sink._controller.start()
        return sink

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @classmethod
    @contextmanager
    def running(cls, directory: Path | None = None, host: str = "127.0.0.1", port: int = 0) -> Iterator[MailSink]:
        sink = cls.start(directory, host, port)
        try:
            yield sink
        finally:
            sink.stop()
