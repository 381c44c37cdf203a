"""Mail backends. The app builds one at start-up; tests read the `.eml` files of the file backend."""

from __future__ import annotations

import logging
import smtplib
import uuid
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol

import anyio

from agent_service.settings import Settings

logger = logging.getLogger("agent_service.mail")


class Mailer(Protocol):
    async def send(self, message: EmailMessage) -> None: ...


def compose(*, sender: str, to: str, subject: str, body: str) -> EmailMessage:
    """A plain UTF-8 text message whose body is written as is (7bit, or 8bit when not ASCII).

    Never quoted-printable or base64: a link with a token must read whole in the `.eml` file and
    in any mail client, with no `=` soft line break inside the token.
    """
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = f"<{uuid.uuid4().hex}@agent-service>"
    message.set_content(body, charset="utf-8", cte="7bit" if body.isascii() else "8bit")
    return message


class FileMailer:
    """One `.eml` file per message in a folder: the embedded default, and what tests read."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    async def send(self, message: EmailMessage) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{uuid.uuid4().hex}.eml"
        await anyio.Path(path).write_bytes(bytes(message))
        logger.info("mail to %s written to %s", message["To"], path)


class ConsoleMailer:
    """Prints the whole message to the log: for a local demo without a mail folder to open."""

    async def send(self, message: EmailMessage) -> None:
        logger.info("mail to %s\n%s", message["To"], message.as_string())


class SmtpMailer:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def _send_blocking(self, message: EmailMessage) -> None:
        s = self.settings
        with smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=30) as smtp:
            if s.smtp_starttls:
                smtp.starttls()
            if s.smtp_username and s.smtp_password:
                smtp.login(s.smtp_username, s.smtp_password.get_secret_value())
            smtp.send_message(message)

    async def send(self, message: EmailMessage) -> None:
        await anyio.to_thread.run_sync(self._send_blocking, message)


def build_mailer(settings: Settings) -> Mailer:
    if settings.mail_backend == "console":
        return ConsoleMailer()
    if settings.mail_backend == "smtp":
        return SmtpMailer(settings)
    return FileMailer(settings.resolved_mail_dir)
