"""User schemas: what comes in, what goes out (never a password or a hash)."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from agent_service.text import Text

Password = Field(min_length=8, max_length=128)
CURRENT_PASSWORD = Field(
    default=None,
    max_length=1024,
    description="Your current password: needed to change your own email or password.",
)


class UserCreate(BaseModel):
    email: EmailStr
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

    email: EmailStr | None = None
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
    email: EmailStr | None = None
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
