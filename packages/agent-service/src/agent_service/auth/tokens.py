"""JWT access and refresh tokens (HS256 pinned) and the random single-use tokens sent by mail."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

ALGORITHM = "HS256"


def create_access_token(
    *, user_id: uuid.UUID, token_version: int, secret: str, expire_minutes: int, typ: str = "access"
) -> str:
    """A bearer token (`typ` "access"), or the web pages' refresh credential (`typ` "refresh",
    kept in an HttpOnly cookie): the same claims, never accepted for one another."""
    now = datetime.now(UTC)
    claims = {
        "sub": str(user_id),
        "tv": token_version,
        "iat": now,
        "exp": now + timedelta(minutes=expire_minutes),
        "typ": typ,
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def decode_access_token(token: str, *, secret: str, typ: str = "access") -> dict[str, Any] | None:
    """The claims of a valid token of this `typ`, or None (bad signature, expired, wrong alg or
    typ, malformed)."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            options={"require": ["sub", "exp", "iat"]},
        )
    except jwt.PyJWTError:
        return None
    if claims.get("typ") != typ or not isinstance(claims.get("tv"), int):
        return None
    return claims


def new_mail_token() -> tuple[str, str]:
    """(token for the link, its SHA-256 to store): the database never holds the token itself."""
    token = secrets.token_urlsafe(32)
    return token, hash_mail_token(token)


def hash_mail_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
