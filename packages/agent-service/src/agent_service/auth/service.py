"""Registration, login, verification and reset: the rules that keep accounts safe."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent_service.auth import throttle
from agent_service.auth.exceptions import (
    AccountDisabled,
    CurrentPasswordRequired,
    EmailAlreadyVerified,
    EmailNotVerified,
    InvalidAccessToken,
    InvalidCredentials,
    InvalidMailToken,
    InvalidRefreshCookie,
    TooManyAttempts,
    WrongCurrentPassword,
)
from agent_service.auth.mails import send_account_exists_mail
from agent_service.auth.mails import send_token_mail as send_token_mail  # users mail too
from agent_service.auth.models import EmailToken, TokenPurpose
from agent_service.auth.passwords import Passwords, passwords_for
from agent_service.auth.schemas import AccessToken
from agent_service.auth.tokens import (
    create_access_token,
    decode_access_token,
    hash_mail_token,
    new_mail_token,
)
from agent_service.db import parse_id, utcnow
from agent_service.mail.service import Mailer
from agent_service.settings import Settings
from agent_service.users import service as users
from agent_service.users.exceptions import NotYourAccount
from agent_service.users.models import User


async def issue_mail_token(
    session: AsyncSession, user: User, purpose: TokenPurpose, settings: Settings
) -> str:
    token, token_hash = new_mail_token()
    expires_at = utcnow() + timedelta(minutes=settings.email_token_expire_minutes)
    session.add(
        EmailToken(user_id=user.id, purpose=purpose, token_hash=token_hash, expires_at=expires_at)
    )
    await session.flush()
    return token


async def register(
    session: AsyncSession, settings: Settings, *, email: str, password: str, name: str
) -> tuple[User, bool]:
    """(the account as the client sees it, whether it is new): the same work either way.

    A taken address must not be told apart from a free one, by the answer or by its time: the
    password is hashed and the row offered to the database in both cases (one INSERT that does
    nothing on a taken address), and the caller mails in the background either way (a
    verification link, or "you already have an account" to the owner).
    """
    user = User(
        id=uuid.uuid4(),
        email=users.normalise_email(email),
        name=name,
        hashed_password=await passwords_for(settings).hash(password),
        is_active=True,
        is_admin=False,
        email_verified=False,
        token_version=0,
    )
    user.created_at = user.updated_at = utcnow()
    created = await users.insert_unless_taken(session, user)
    await session.commit()
    return user, created


async def mail_registration(
    sessionmaker: async_sessionmaker[AsyncSession],
    mailer: Mailer,
    settings: Settings,
    *,
    email: str,
    created: bool,
) -> None:
    """After the answer: a verification link to a new account, a reminder to an existing one."""
    async with sessionmaker() as session:
        user = await users.get_user_by_email(session, email)
        if user is None:  # deleted meanwhile
            return
        if not created:
            await send_account_exists_mail(mailer, settings, user=user)
            return
        token = await issue_mail_token(session, user, TokenPurpose.VERIFY_EMAIL, settings)
        await session.commit()
    await send_token_mail(
        mailer, settings, user=user, purpose=TokenPurpose.VERIFY_EMAIL, token=token
    )


async def consume_mail_token(session: AsyncSession, token: str, purpose: TokenPurpose) -> User:
    """Marks the token used in one conditional UPDATE, so two concurrent uses cannot both win."""
    now = utcnow()
    result = await session.execute(
        update(EmailToken)
        .where(
            EmailToken.token_hash == hash_mail_token(token),
            EmailToken.purpose == purpose,
            EmailToken.used_at.is_(None),
            EmailToken.expires_at > now,
        )
        .values(used_at=now)
        .returning(EmailToken.user_id)
    )
    user_id = result.scalar_one_or_none()
    user = await users.get_user(session, user_id) if user_id else None
    if user is None:
        await session.rollback()
        raise InvalidMailToken()
    return user


async def verify_email(session: AsyncSession, token: str) -> User:
    """A used link of a verified account says so (409 email_already_verified): its holder
    clicked it twice, or a mail scanner did first; they only need to sign in."""
    try:
        user = await consume_mail_token(session, token, TokenPurpose.VERIFY_EMAIL)
    except InvalidMailToken:
        owner = await session.scalar(
            select(EmailToken.user_id).where(
                EmailToken.token_hash == hash_mail_token(token),
                EmailToken.purpose == TokenPurpose.VERIFY_EMAIL,
            )
        )
        known = await users.get_user(session, owner) if owner else None
        if known is not None and known.email_verified:
            raise EmailAlreadyVerified() from None
        raise
    user.email_verified = True
    await session.commit()
    return user


async def resend_verification(
    sessionmaker: async_sessionmaker[AsyncSession],
    mailer: Mailer,
    settings: Settings,
    *,
    email: str,
) -> None:
    """Mails a new verification link when the account exists and is not verified yet. Run after
    the answer (a background task), like forgot_password, so it says nothing about the address."""
    async with sessionmaker() as session:
        user = await users.get_user_by_email(session, email)
        if user is None or not user.is_active or user.email_verified:
            return
        token = await issue_mail_token(session, user, TokenPurpose.VERIFY_EMAIL, settings)
        await session.commit()
    await send_token_mail(
        mailer, settings, user=user, purpose=TokenPurpose.VERIFY_EMAIL, token=token
    )


async def forgot_password(
    sessionmaker: async_sessionmaker[AsyncSession],
    mailer: Mailer,
    settings: Settings,
    *,
    email: str,
) -> None:
    """Mails a reset link when the account exists. Run after the answer (a background task), so
    that the answer's time says nothing about the address."""
    async with sessionmaker() as session:
        user = await users.get_user_by_email(session, email)
        if user is None or not user.is_active:
            return
        token = await issue_mail_token(session, user, TokenPurpose.RESET_PASSWORD, settings)
        await session.commit()
    await send_token_mail(
        mailer, settings, user=user, purpose=TokenPurpose.RESET_PASSWORD, token=token
    )


async def reset_password(
    session: AsyncSession, settings: Settings, *, token: str, new_password: str
) -> None:
    user = await consume_mail_token(session, token, TokenPurpose.RESET_PASSWORD)
    await revoke_mail_tokens(session, user, TokenPurpose.RESET_PASSWORD)
    await users.set_password(user, new_password, passwords_for(settings))
    user.email_verified = True  # they proved they read the mailbox
    await session.commit()


async def authenticate(
    session: AsyncSession,
    settings: Settings,
    *,
    email: str,
    password: str,
    address: str | None = None,
) -> User:
    """The user with these credentials; throttled per account and per client `address`
    (429 `too_many_attempts`), with the hash computed off the event loop, and at most
    `login_slots` logins of this process worked on at once."""
    passwords = passwords_for(settings)
    try:
        async with passwords.login_gate():
            attempt = await throttle.reserve_attempt(
                session, email=email, address=address, max_failures=settings.login_max_failures
            )
            user = await _check_credentials(session, passwords, attempt, email, password)
    except TooManyAttempts as refused:
        # Held before it is answered, outside the gate and with the connection back in the pool:
        # a storm of refused logins then costs sleeping coroutines, not the event loop.
        await session.rollback()
        await asyncio.sleep(min(refused.wait_s, settings.login_refusal_hold_s))
        raise
    if not user.is_active:
        raise AccountDisabled()
    if settings.require_email_verification and not user.email_verified:
        raise EmailNotVerified()
    return user


async def _check_credentials(
    session: AsyncSession, passwords: Passwords, attempt: list[str], email: str, password: str
) -> User:
    """The account if the password is right (its throttle count then settled), else 401."""
    user = await users.get_user_by_email(session, email)
    if user is None:
        await passwords.burn_verification_time(password)
        raise InvalidCredentials()
    valid, new_hash = await passwords.verify(password, user.hashed_password)
    if not valid:
        raise InvalidCredentials()
    await throttle.settle_success(session, attempt)
    if new_hash is not None:
        user.hashed_password = new_hash
    await session.commit()
    return user


def issue_access_token(user: User, settings: Settings) -> AccessToken:
    token = create_access_token(
        user_id=user.id,
        token_version=user.token_version,
        secret=settings.jwt_secret.get_secret_value(),
        expire_minutes=settings.jwt_expire_minutes,
    )
    return AccessToken(access_token=token, expires_in=settings.jwt_expire_minutes * 60)


def issue_refresh_token(user: User, settings: Settings) -> str:
    """The web pages' refresh credential: revoked with the access tokens (`token_version`)."""
    return create_access_token(
        user_id=user.id,
        token_version=user.token_version,
        secret=settings.jwt_secret.get_secret_value(),
        expire_minutes=settings.refresh_expire_days * 24 * 60,
        typ="refresh",
    )


async def user_from_refresh_token(
    session: AsyncSession, settings: Settings, token: str | None
) -> User:
    secret = settings.jwt_secret.get_secret_value()
    claims = decode_access_token(token, secret=secret, typ="refresh") if token else None
    user_id = parse_id(claims["sub"]) if claims else None
    user = await users.get_user(session, user_id) if user_id else None
    if user is None or claims is None or claims["tv"] != user.token_version:
        raise InvalidRefreshCookie()
    if not user.is_active:
        raise AccountDisabled()
    return user


async def sign_out_everywhere(session: AsyncSession, user: User) -> None:
    """Every token issued before, bearer or refresh cookie, stops working."""
    user.token_version += 1
    await session.commit()


async def user_from_access_token(session: AsyncSession, settings: Settings, token: str) -> User:
    claims = decode_access_token(token, secret=settings.jwt_secret.get_secret_value())
    user_id = parse_id(claims["sub"]) if claims else None
    user = await users.get_user(session, user_id) if user_id else None
    if user is None or claims is None or claims["tv"] != user.token_version:
        raise InvalidAccessToken()
    if not user.is_active:
        raise AccountDisabled()
    return user


async def check_current_password(
    user: User, current_password: str | None, settings: Settings
) -> None:
    """403 when it is missing, 401 when it is wrong: a token alone never changes credentials."""
    if not current_password:
        raise CurrentPasswordRequired()
    valid, _ = await passwords_for(settings).verify(current_password, user.hashed_password)
    if not valid:
        raise WrongCurrentPassword()


async def revoke_mail_tokens(session: AsyncSession, user: User, *purposes: TokenPurpose) -> None:
    """Unused links of these purposes stop working (e.g. a verification sent to an old address)."""
    await session.execute(
        update(EmailToken)
        .where(
            EmailToken.user_id == user.id,
            EmailToken.purpose.in_(purposes),
            EmailToken.used_at.is_(None),
        )
        .values(used_at=utcnow())
    )


async def change_credentials(
    session: AsyncSession,
    settings: Settings,
    *,
    actor: User,
    user: User,
    email: str | None = None,
    password: str | None = None,
    current_password: str | None = None,
) -> str | None:
    """Change `user`'s email and/or password as `actor`; the caller commits, then mails.

    Changing one's own credentials (an admin's too) needs the current password; only an admin
    changes another user's. Either change revokes the user's older tokens and unused reset links;
    a new email is unverified, and the verification token for it is returned, to be mailed to it.
    """
    new_email = users.new_email_for(user, email)
    if new_email is None and password is None:
        return None
    if actor.id == user.id:
        await check_current_password(user, current_password, settings)
    elif not actor.is_admin:
        raise NotYourAccount()
    if new_email is not None:
        await users.ensure_email_free(session, new_email)  # before any change is made
    await revoke_mail_tokens(session, user, TokenPurpose.RESET_PASSWORD)
    if password is not None:
        await users.set_password(user, password, passwords_for(settings))
    if new_email is None:
        return None
    await users.change_email(session, user, new_email)
    await revoke_mail_tokens(session, user, TokenPurpose.VERIFY_EMAIL)
    return await issue_mail_token(session, user, TokenPurpose.VERIFY_EMAIL, settings)
