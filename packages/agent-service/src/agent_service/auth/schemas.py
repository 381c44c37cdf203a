from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, EmailStr, Field

from agent_service.text import Text


class LoginRequest(BaseModel):
    email: EmailStr
    password: Text = Field(min_length=1, max_length=1024)


class AccessToken(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105
    expires_in: int


class VerifyEmailRequest(BaseModel):
    token: Text = Field(min_length=1, max_length=256)


class ForgotPasswordRequest(BaseModel):
    email: EmailStr


class ResetPasswordRequest(BaseModel):
    token: Text = Field(min_length=1, max_length=256)
    new_password: Text = Field(min_length=8, max_length=128)


class Accepted(BaseModel):
    detail: str
