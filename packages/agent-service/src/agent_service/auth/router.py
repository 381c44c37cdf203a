"""/api/auth: register, verify, log in, reset a password; the web pages' refresh cookie."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, BackgroundTasks, Body, Depends, Request, Response, status

from agent_service.auth import service
from agent_service.auth.exceptions import CrossSiteRequest, InvalidAccessToken
from agent_service.auth.schemas import (
    Accepted,
    AccessToken,
    ForgotPasswordRequest,
    LoginRequest,
    LogoutRequest,
    PasswordForm,
    ResetPasswordRequest,
    VerifyEmailRequest,
)
from agent_service.deps import MailerDep, SessionDep, SettingsDep, oauth2_scheme
from agent_service.settings import Settings
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


REFRESH_COOKIE = "agent_service_refresh"
CSRF_HEADER, CSRF_VALUE = "X-Requested-With", "agent-service"


def _set_refresh_cookie(
    response: Response, request: Request, settings: Settings, token: str
) -> None:
    response.set_cookie(
        REFRESH_COOKIE,
        token,
        max_age=settings.refresh_expire_days * 24 * 3600,
        path="/api/auth",
        secure=request.url.scheme == "https" or settings.environment == "production",
        httponly=True,
        samesite="lax",
    )


def _clear_refresh_cookie(response: Response, request: Request, settings: Settings) -> None:
    response.delete_cookie(
        REFRESH_COOKIE,
        path="/api/auth",
        secure=request.url.scheme == "https" or settings.environment == "production",
        httponly=True,
        samesite="lax",
    )


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def check_same_site(request: Request, settings: Settings) -> None:
    """The cookie routes' CSRF guard: a custom header (a cross-site form cannot send one, a
    cross-origin fetch only after a CORS preflight we never grant), and an `Origin`, when sent,
    that is the public URL's or the request's own."""
    if request.headers.get(CSRF_HEADER) != CSRF_VALUE:
        raise CrossSiteRequest()
    origin = request.headers.get("origin")
    allowed = {_origin(settings.resolved_public_url), _origin(str(request.base_url))}
    if origin is not None and origin.rstrip("/").lower() not in allowed:
        raise CrossSiteRequest()


@router.post("/login", response_model=AccessToken)
async def login(
    body: LoginRequest,
    request: Request,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
) -> AccessToken:
    """Exchange email and password for a bearer token. With `remember: true` (the web pages)
    also set an HttpOnly refresh cookie, for `POST /api/auth/refresh`."""
    user = await service.authenticate(
        session, settings, email=body.email, password=body.password, address=client_address(request)
    )
    if body.remember:
        _set_refresh_cookie(
            response, request, settings, service.issue_refresh_token(user, settings)
        )
    return service.issue_access_token(user, settings)


@router.post("/refresh", response_model=AccessToken)
async def refresh(
    request: Request, response: Response, session: SessionDep, settings: SettingsDep
) -> AccessToken:
    """A new bearer token for the refresh cookie set by a login with `remember: true` (a page in
    a new tab). Needs `X-Requested-With: agent-service` and a same-origin `Origin` (403); no
    valid cookie: 401. The cookie is renewed; it authorizes nothing else."""
    check_same_site(request, settings)
    user = await service.user_from_refresh_token(
        session, settings, request.cookies.get(REFRESH_COOKIE)
    )
    _set_refresh_cookie(response, request, settings, service.issue_refresh_token(user, settings))
    return service.issue_access_token(user, settings)


@router.post("/logout", response_model=Accepted)
async def logout(
    request: Request,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    bearer: Annotated[str | None, Depends(oauth2_scheme)],
    body: Annotated[LogoutRequest | None, Body()] = None,
) -> Accepted:
    """Sign out: clear the refresh cookie (same CSRF rule as refresh: 403). With
    `{"everywhere": true}` also revoke every token and cookie of the account, which is named by
    the bearer token or the cookie (neither valid: 401)."""
    check_same_site(request, settings)
    _clear_refresh_cookie(response, request, settings)
    if body is None or not body.everywhere:
        return Accepted(detail="Signed out.")
    if bearer:
        user = await service.user_from_access_token(session, settings, bearer)
    elif REFRESH_COOKIE in request.cookies:
        user = await service.user_from_refresh_token(
            session, settings, request.cookies[REFRESH_COOKIE]
        )
    else:
        raise InvalidAccessToken()
    await service.sign_out_everywhere(session, user)
    return Accepted(detail="Signed out everywhere: every sign-in of this account has ended.")


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
