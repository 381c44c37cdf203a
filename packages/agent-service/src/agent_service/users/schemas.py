"""User schemas: what comes in, what goes out (never a password or a hash)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema

from agent_service.text import Text

MAX_EMAIL_LENGTH = 254  # RFC 5321's limit on a forward path, which email-validator enforces
# `.local`, `localhost`, `.test`, ...: single labels, which email-validator refuses outright
SPECIAL_USE_NAMES = frozenset(SPECIAL_USE_DOMAIN_NAMES)


def parse_email(value: str) -> str:
    """An address as RFC 5322 writes one (what `format: email` says), normalised.

    Special-use domains (`.local`, `localhost`, `.test`, ...) are accepted: an intranet's
    `corp.local` is a real mail domain, and refusing `.test` protects nothing that a made-up
    `.com` address does not already get past; the verification mail is what proves an address.
    email-validator refuses them whatever its options but `.test` with `test_environment`, so
    such a last label is checked as `test` and put back.
    """
    if len(value) > MAX_EMAIL_LENGTH:  # before parsing: a long value costs nothing to refuse
        raise ValueError(f"value is not a valid email address: over {MAX_EMAIL_LENGTH} characters")
    local, _, domain = value.rpartition("@")
    head, dot, last = domain.rpartition(".")
    special = last.lower() if last.lower() in SPECIAL_USE_NAMES else None
    checked = f"{local}@{head}{dot}test" if special else value
    try:
        parsed = validate_email(
            checked, check_deliverability=False, globally_deliverable=False, test_environment=True
        )
    except EmailNotValidError as exc:
        raise ValueError(f"value is not a valid email address: {exc}") from exc
    return parsed.normalized.removesuffix("test") + special if special else parsed.normalized


Email = Annotated[
    str,
    AfterValidator(parse_email),
    WithJsonSchema({"type": "string", "format": "email", "maxLength": MAX_EMAIL_LENGTH}),
]

Password = Field(min_length=8, max_length=128)
CURRENT_PASSWORD = Field(
    default=None,
    max_length=1024,
    description="Your current password: needed to change your own email or password.",
)


class UserCreate(BaseModel):
    email: Email
    password: Text = Password
    name: Text = Field(default="", max_length=200)


class AdminUserCreate(UserCreate):
    is_admin: bool = False
    email_verified: bool = False


class UserUpdate(BaseModel):
    """PUT /api/users/{id}: every field optional; the role fields are for admins only.

    A new email is unverified until the link mailed to it is used; changing your own email or
    password needs `current_password`, and revokes your older tokens.
    """

    model_config = ConfigDict(extra="forbid")

    email: Email | None = None
    name: Text | None = Field(default=None, max_length=200)
    password: Text | None = Field(default=None, min_length=8, max_length=128)
    current_password: Text | None = CURRENT_PASSWORD
    is_active: bool | None = None
    is_admin: bool | None = None
    email_verified: bool | None = None


class ProfileUpdate(BaseModel):
    """PATCH /api/profile: a new email or password needs `current_password`, as on PUT."""

    model_config = ConfigDict(extra="forbid")

    name: Text | None = Field(default=None, max_length=200)
    email: Email | None = None
    current_password: Text | None = CURRENT_PASSWORD
    new_password: Text | None = Field(default=None, min_length=8, max_length=128)


class UserPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    email: str
    name: str
    is_active: bool
    is_admin: bool
    email_verified: bool
    created_at: datetime
    updated_at: datetime


class AdminUserPublic(UserPublic):
    counts: dict[str, int]
