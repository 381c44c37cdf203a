from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Form
from pydantic import BaseModel, Field

from agent_service.text import Text
from agent_service.users.schemas import Email


class LoginRequest(BaseModel):
    email: Email
    password: Text = Field(min_length=1, max_length=1024)
    # The web pages ask for it: an HttpOnly refresh cookie, so a new tab stays signed in.
    remember: bool = False


class LogoutRequest(BaseModel):
    # Revoke every sign-in of the account: refresh cookies and bearer tokens alike.
    everywhere: bool = False


class AccessToken(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105
    expires_in: int


class VerifyEmailRequest(BaseModel):
    token: Text = Field(min_length=1, max_length=256)


class ForgotPasswordRequest(BaseModel):
    email: Email


class ResetPasswordRequest(BaseModel):
    token: Text = Field(min_length=1, max_length=256)
    new_password: Text = Field(min_length=8, max_length=128)


class Accepted(BaseModel):
    detail: str


class PasswordForm:
    """The OAuth2 password form of `POST /api/auth/token` (FastAPI's own takes any text, and a
    NUL in `username` reached PostgreSQL as a 500): text NUL-checked, lengths bounded."""

    def __init__(
        self,
        username: Annotated[Text, Form(min_length=1, max_length=320)],
        password: Annotated[Text, Form(min_length=1, max_length=1024)],
        grant_type: Annotated[str | None, Form(pattern="^password$")] = None,
        scope: Annotated[Text, Form(max_length=1024)] = "",
        client_id: Annotated[Text | None, Form(max_length=256)] = None,
        client_secret: Annotated[Text | None, Form(max_length=256)] = None,
    ) -> None:
        self.username, self.password = username, password
        self.scopes = scope.split()
