"""The account mails: a link with a single-use token, or word that an account already exists.

Links start at `PUBLIC_URL`, never at the address a request came in on: a forged Host header
must not put an attacker's site in a reset mail.
"""

from __future__ import annotations

from agent_service.auth.models import TokenPurpose
from agent_service.mail.service import Mailer, compose
from agent_service.settings import Settings
from agent_service.users.models import User

_MAIL_TEXT = {
    TokenPurpose.VERIFY_EMAIL: (
        "Verify your email",
        "verify-email",
        "Welcome! Confirm your email address by opening this link:",
    ),
    TokenPurpose.RESET_PASSWORD: (
        "Reset your password",
        "reset-password",
        "Someone asked to reset the password of this account. If it was you, open this link:",
    ),
}


async def send_token_mail(
    mailer: Mailer, settings: Settings, *, user: User, purpose: TokenPurpose, token: str
) -> None:
    """A short plain-text mail with the link on a line of its own, so it can be clicked or pasted."""
    subject, path, intro = _MAIL_TEXT[purpose]
    link = f"{settings.resolved_public_url}/{path}?token={token}"
    hours = settings.email_token_expire_minutes / 60
    body = (
        f"{intro}\n\n{link}\n\n"
        f"The link works once, within {hours:g} hours.\n\n"
        f"Using the API instead? POST this token to /api/auth/{path}:\n{token}\n"
    )
    await mailer.send(compose(sender=settings.mail_from, to=user.email, subject=subject, body=body))


async def send_account_exists_mail(mailer: Mailer, settings: Settings, *, user: User) -> None:
    body = (
        "Someone (you?) tried to register a new account with this address, which already has "
        "one. Nothing was changed.\n\n"
        f"Log in at {settings.resolved_public_url}/login, or reset a forgotten password at\n"
        f"{settings.resolved_public_url}/forgot-password\n"
    )
    await mailer.send(
        compose(
            sender=settings.mail_from,
            to=user.email,
            subject="You already have an account",
            body=body,
        )
    )
