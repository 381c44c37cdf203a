"""/api/auth: register, verify, log in, reset a password."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Request, status

from agent_service.auth import service
from agent_service.auth.schemas import (
    Accepted,
    AccessToken,
    ForgotPasswordRequest,
    LoginRequest,
    PasswordForm,
    ResetPasswordRequest,
    VerifyEmailRequest,
)
from agent_service.deps import MailerDep, SessionDep, SettingsDep
from agent_service.users.schemas import UserCreate, UserPublic

router = APIRouter(prefix="/api/auth", tags=["auth"])


def client_address(request: Request) -> str | None:
    """The peer's address, as the server saw it (behind a proxy: uvicorn's
    `--forwarded-allow-ips` makes it the client's, from X-Forwarded-For)."""
    return request.client.host if request.client else None


@router.post("/register", status_code=status.HTTP_201_CREATED, response_model=UserPublic)
async def register(
    body: UserCreate,
    request: Request,
    session: SessionDep,
    mailer: MailerDep,
    settings: SettingsDep,
    background: BackgroundTasks,
) -> UserPublic:
    """Create an account and mail a verification link (a taken address: its owner is told)."""
    user, created = await service.register(
        session, settings, email=body.email, password=body.password, name=body.name
    )
    background.add_task(
        service.mail_registration,
        request.app.state.sessionmaker,
        mailer,
        settings,
        email=user.email,
        created=created,
    )
    return UserPublic.model_validate(user)


@router.post(
    "/verify-email",
    response_model=UserPublic,
    responses={409: {"description": "The link was used and the address is verified already."}},
)
async def verify_email(body: VerifyEmailRequest, session: SessionDep) -> UserPublic:
    """Confirm an email address with the single-use token from the mail."""
    return UserPublic.model_validate(await service.verify_email(session, body.token))


@router.post("/login", response_model=AccessToken)
async def login(
    body: LoginRequest, request: Request, session: SessionDep, settings: SettingsDep
) -> AccessToken:
    """Exchange email and password for a bearer token."""
    user = await service.authenticate(
        session, settings, email=body.email, password=body.password, address=client_address(request)
    )
    return service.issue_access_token(user, settings)


@router.post("/token", response_model=AccessToken)
async def token(
    form: Annotated[PasswordForm, Depends()],
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
) -> AccessToken:
    """OAuth2 password flow (username = email), for the Authorize button of /docs."""
    user = await service.authenticate(
        session,
        settings,
        email=form.username,
        password=form.password,
        address=client_address(request),
    )
    return service.issue_access_token(user, settings)


_FORGOT_ANSWER = "If an account exists for this email, a reset link is on its way."
_RESEND_ANSWER = (
    "If this email has an account that is not verified yet, a new verification link is on its way."
)


@router.post("/resend-verification", status_code=status.HTTP_202_ACCEPTED, response_model=Accepted)
async def resend_verification(
    body: ForgotPasswordRequest,
    request: Request,
    mailer: MailerDep,
    settings: SettingsDep,
    background: BackgroundTasks,
) -> Accepted:
    """Mail a new verification link; the same answer whether or not the account exists."""
    background.add_task(
        service.resend_verification,
        request.app.state.sessionmaker,
        mailer,
        settings,
        email=body.email,
    )
    return Accepted(detail=_RESEND_ANSWER)


@router.post("/forgot-password", status_code=status.HTTP_202_ACCEPTED, response_model=Accepted)
async def forgot_password(
    body: ForgotPasswordRequest,
    request: Request,
    mailer: MailerDep,
    settings: SettingsDep,
    background: BackgroundTasks,
) -> Accepted:
    """Mail a reset link; the answer (and its time) is the same whether or not the account
    exists: the account is looked up after the answer."""
    background.add_task(
        service.forgot_password,
        request.app.state.sessionmaker,
        mailer,
        settings,
        email=body.email,
    )
    return Accepted(detail=_FORGOT_ANSWER)


@router.post("/reset-password", response_model=Accepted)
async def reset_password(
    body: ResetPasswordRequest, session: SessionDep, settings: SettingsDep
) -> Accepted:
    """Set a new password with the single-use token from the reset mail."""
    await service.reset_password(
        session, settings, token=body.token, new_password=body.new_password
    )
    return Accepted(detail="Password changed; log in with the new one.")
