"""The console and SMTP backends deliver what the file backend writes."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from email import message_from_bytes
from email.message import Message

import pytest
from aiosmtpd.controller import Controller

from agent_service.mail.service import ConsoleMailer, SmtpMailer, build_mailer, compose
from agent_service.settings import Settings


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:  # noqa: N802
        self.messages.append(message_from_bytes(envelope.content))  # type: ignore[attr-defined]
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


async def test_smtp_backend_delivers(smtp_server: tuple[Inbox, int], settings: Settings) -> None:
    inbox, port = smtp_server
    smtp_settings = settings.model_copy(
        update={
            "mail_backend": "smtp",
            "smtp_host": "127.0.0.1",
            "smtp_port": port,
            "smtp_starttls": False,
        }
    )
    mailer = build_mailer(smtp_settings)
    assert isinstance(mailer, SmtpMailer)
    await mailer.send(compose(sender="a@x.test", to="b@x.test", subject="Hi", body="token=1"))
    assert len(inbox.messages) == 1
    assert inbox.messages[0]["Subject"] == "Hi"


async def test_console_backend_logs(caplog: pytest.LogCaptureFixture, settings: Settings) -> None:
    mailer = build_mailer(settings.model_copy(update={"mail_backend": "console"}))
    assert isinstance(mailer, ConsoleMailer)
    with caplog.at_level(logging.INFO, logger="agent_service.mail"):
        await mailer.send(compose(sender="a@x.test", to="b@x.test", subject="S", body="link"))
    assert "b@x.test" in caplog.text
    assert "link" in caplog.text
