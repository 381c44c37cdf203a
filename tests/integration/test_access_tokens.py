"""Every way a bearer token can be wrong is a 401 in the one error shape."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import jwt
import pytest

from tests.conftest import TEST_JWT_SECRET
from tests.factories import TestUser


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def forged_tokens(user: TestUser) -> dict[str, str]:
    now = datetime.now(UTC)
    claims = {"sub": str(user.id), "tv": 0, "typ": "access", "iat": now}
    alg_none = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64({**claims, 'iat': 0, 'exp': 2**31})}."
    return {
        "garbage": "not.a.jwt",
        "expired": jwt.encode(
            {**claims, "exp": now - timedelta(seconds=1)}, TEST_JWT_SECRET, algorithm="HS256"
        ),
        "alg_none": alg_none,
        "wrong_secret": jwt.encode(
            {**claims, "exp": now + timedelta(hours=1)},
            "another-secret-" + "fedcba9876543210" * 4,
            algorithm="HS256",
        ),
        "other_alg": jwt.encode(
            {**claims, "exp": now + timedelta(hours=1)}, TEST_JWT_SECRET, algorithm="HS512"
        ),
        "unknown_user": jwt.encode(
            {**claims, "sub": str(uuid.uuid4()), "exp": now + timedelta(hours=1)},
            TEST_JWT_SECRET,
            algorithm="HS256",
        ),
        "no_expiry": jwt.encode(claims, TEST_JWT_SECRET, algorithm="HS256"),
    }


async def test_missing_token_is_401(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/profile")
    assert r.status_code == 401
    assert r.json()["error"] == "unauthenticated"
    assert r.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "kind",
    ["garbage", "expired", "alg_none", "wrong_secret", "other_alg", "unknown_user", "no_expiry"],
)
async def test_bad_token_is_401(client: httpx.AsyncClient, user: TestUser, kind: str) -> None:
    token = forged_tokens(user)[kind]
    r = await client.get("/api/profile", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401
    assert set(r.json()) == {"error", "detail"}
    assert r.json()["error"] == "invalid_token"


async def test_valid_token_works(client: httpx.AsyncClient, user: TestUser) -> None:
    assert (await client.get("/api/profile", headers=user.headers)).status_code == 200
