"""/api/auth: register, verify, log in, reset a password."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, status
from fastapi.security import OAuth2PasswordRequestForm

from agent_service.auth import service
from agent_service.auth.schemas import (
    Accepted,
    AccessToken,
    ForgotPasswordRequest,
    LoginRequest,
    ResetPasswordRequest,
    VerifyEmailRequest,
)
from agent_service.deps import MailerDep, SessionDep, SettingsDep
from agent_service.users.schemas import UserCreate, UserPublic

router = APIRouter(prefix="/api/auth", tags=["auth"])


@router.post("/register", status_code=status.HTTP_201_CREATED, response_model=UserPublic)
async def register(
    body: UserCreate, session: SessionDep, mailer: MailerDep, settings: SettingsDep
) -> UserPublic:
    """Create an account and mail a verification link."""
    user = await service.register(
        session, mailer, settings, email=body.email, password=body.password, name=body.name
    )
    return UserPublic.model_validate(user)


@router.post("/verify-email", response_model=UserPublic)
async def verify_email(body: VerifyEmailRequest, session: SessionDep) -> UserPublic:
    """Confirm an email address with the single-use token from the mail."""
    return UserPublic.model_validate(await service.verify_email(session, body.token))


@router.post("/login", response_model=AccessToken)
async def login(body: LoginRequest, session: SessionDep, settings: SettingsDep) -> AccessToken:
    """Exchange email and password for a bearer token."""
    user = await service.authenticate(session, settings, email=body.email, password=body.password)
    return service.issue_access_token(user, settings)


@router.post("/token", response_model=AccessToken)
async def token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    session: SessionDep,
    settings: SettingsDep,
) -> AccessToken:
    """OAuth2 password flow (username = email), for the Authorize button of /docs."""
    user = await service.authenticate(
        session, settings, email=form.username, password=form.password
    )
    return service.issue_access_token(user, settings)


_FORGOT_ANSWER = "If an account exists for this email, a reset link is on its way."


@router.post("/forgot-password", status_code=status.HTTP_202_ACCEPTED, response_model=Accepted)
async def forgot_password(
    body: ForgotPasswordRequest, session: SessionDep, mailer: MailerDep, settings: SettingsDep
) -> Accepted:
    """Mail a reset link; the answer is the same whether or not the account exists."""
    await service.forgot_password(session, mailer, settings, email=body.email)
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
