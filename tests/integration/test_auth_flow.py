"""Registration → verification → login → profile, and every rule on the way."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from agent_service.settings import Settings
from tests.conftest import Outbox
from tests.factories import TestUser


async def register(
    client: httpx.AsyncClient, email: str, password: str = "correct-horse-1"
) -> dict:
    r = await client.post(
        "/api/auth/register", json={"email": email, "password": password, "name": "Ada"}
    )
    assert r.status_code == 201, r.text
    return r.json()


async def login(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post("/api/auth/login", json={"email": email, "password": password})


async def test_register_verify_login_profile(client: httpx.AsyncClient, outbox: Outbox) -> None:
    body = await register(client, "Ada@Example.com")
    assert body["email"] == "ada@example.com"
    assert body["email_verified"] is False
    assert "password" not in body and "hashed_password" not in body

    mail = outbox.to("ada@example.com")
    assert len(mail) == 1 and "verify" in mail[0]["Subject"].lower()
    token = outbox.token_sent_to("ada@example.com")

    r = await client.post("/api/auth/verify-email", json={"token": token})
    assert r.status_code == 200 and r.json()["email_verified"] is True

    r = await login(client, "ada@example.com", "correct-horse-1")
    assert r.status_code == 200
    tokens = r.json()
    assert tokens["token_type"] == "bearer" and tokens["expires_in"] > 0

    r = await client.get(
        "/api/profile", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert r.status_code == 200
    assert r.json()["email"] == "ada@example.com" and r.json()["name"] == "Ada"


async def test_verification_token_is_single_use(client: httpx.AsyncClient, outbox: Outbox) -> None:
    await register(client, "once@example.com")
    token = outbox.token_sent_to("once@example.com")
    assert (await client.post("/api/auth/verify-email", json={"token": token})).status_code == 200
    r = await client.post("/api/auth/verify-email", json={"token": token})
    # Used, and the account is verified: the page says so and offers sign-in (was 400).
    assert r.status_code == 409
    assert r.json()["error"] == "email_already_verified" and "Sign in" in r.json()["detail"]


async def test_verification_token_expires(
    app: FastAPI, client: httpx.AsyncClient, outbox: Outbox, settings: Settings
) -> None:
    settings.email_token_expire_minutes = 1
    await register(client, "late@example.com")
    token = outbox.token_sent_to("late@example.com")
    # Age the stored token past its expiry instead of sleeping.
    from datetime import timedelta

    from sqlalchemy import update

    from agent_service.auth.models import EmailToken
    from agent_service.db import utcnow

    async with app.state.sessionmaker() as session:
        await session.execute(update(EmailToken).values(expires_at=utcnow() - timedelta(seconds=1)))
        await session.commit()
    r = await client.post("/api/auth/verify-email", json={"token": token})
    assert r.status_code == 400 and r.json()["error"] == "invalid_token"


async def test_mail_tokens_are_stored_hashed(
    app: FastAPI, client: httpx.AsyncClient, outbox: Outbox
) -> None:
    await register(client, "hashed@example.com")
    token = outbox.token_sent_to("hashed@example.com")
    from sqlalchemy import select

    from agent_service.auth.models import EmailToken

    async with app.state.sessionmaker() as session:
        stored = (await session.execute(select(EmailToken.token_hash))).scalars().all()
    assert stored and token not in stored


async def test_garbage_verification_token(client: httpx.AsyncClient) -> None:
    r = await client.post("/api/auth/verify-email", json={"token": "nope"})
    assert r.status_code == 400 and r.json()["error"] == "invalid_token"


async def test_a_taken_email_registers_like_a_new_one_and_tells_its_owner(
    client: httpx.AsyncClient, outbox: Outbox
) -> None:
    """No answer tells whether an address has an account (it was 400 `email_taken`): the owner
    is mailed instead, and the account is unchanged."""
    first = await register(client, "dup@example.com")
    r = await client.post(
        "/api/auth/register", json={"email": "DUP@example.com", "password": "another-pass-1"}
    )
    assert r.status_code == 201
    assert set(r.json()) == set(first) and r.json()["email"] == "dup@example.com"
    assert r.json()["id"] != first["id"]
    mails = {m["Subject"]: m.get_payload() for m in outbox.to("dup@example.com")}
    assert sorted(mails) == ["Verify your email", "You already have an account"]
    assert "?token=" not in mails["You already have an account"]
    r = await client.post(
        "/api/auth/login", json={"email": "dup@example.com", "password": "another-pass-1"}
    )
    assert r.status_code == 401


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"email": "not-an-email", "password": "long-enough-1"}, "email"),
        ({"email": "a@example.com", "password": "short"}, "password"),
        ({"password": "long-enough-1"}, "email"),
    ],
)
async def test_register_validation_is_422(
    client: httpx.AsyncClient, payload: dict, field: str
) -> None:
    r = await client.post("/api/auth/register", json=payload)
    assert r.status_code == 422
    body = r.json()
    assert body["error"] == "validation_error"
    assert [e["field"] for e in body["errors"]] == [field]


async def test_login_wrong_password_and_unknown_email_look_the_same(
    client: httpx.AsyncClient, user: TestUser
) -> None:
    wrong = await login(client, user.email, "wrong-password")
    unknown = await login(client, "nobody@example.com", "wrong-password")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert wrong.json()["error"] == "invalid_credentials"


async def test_oauth2_form_token_route(client: httpx.AsyncClient, user: TestUser) -> None:
    r = await client.post(
        "/api/auth/token", data={"username": user.email, "password": user.password}
    )
    assert r.status_code == 200
    token = r.json()["access_token"]
    r = await client.get("/api/profile", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200 and r.json()["id"] == str(user.id)


async def test_required_verification_blocks_login_until_verified(
    client: httpx.AsyncClient, outbox: Outbox, settings: Settings
) -> None:
    settings.require_email_verification = True
    await register(client, "strict@example.com", "strict-pass-1")
    r = await login(client, "strict@example.com", "strict-pass-1")
    assert r.status_code == 403 and r.json()["error"] == "email_not_verified"
    token = outbox.token_sent_to("strict@example.com")
    await client.post("/api/auth/verify-email", json={"token": token})
    assert (await login(client, "strict@example.com", "strict-pass-1")).status_code == 200


async def test_forgot_password_does_not_reveal_accounts(
    client: httpx.AsyncClient, user: TestUser, outbox: Outbox
) -> None:
    known = await client.post("/api/auth/forgot-password", json={"email": user.email})
    unknown = await client.post("/api/auth/forgot-password", json={"email": "ghost@example.com"})
    assert known.status_code == unknown.status_code == 202
    assert known.json() == unknown.json()
    assert len(outbox.to(user.email)) == 1
    assert outbox.to("ghost@example.com") == []


async def test_reset_password_flow(
    client: httpx.AsyncClient, user: TestUser, outbox: Outbox
) -> None:
    await client.post("/api/auth/forgot-password", json={"email": user.email})
    token = outbox.token_sent_to(user.email)
    r = await client.post(
        "/api/auth/reset-password", json={"token": token, "new_password": "brand-new-pass"}
    )
    assert r.status_code == 200
    assert (await login(client, user.email, user.password)).status_code == 401
    assert (await login(client, user.email, "brand-new-pass")).status_code == 200
    # The old access token was revoked with the old password, and the link works once.
    assert (await client.get("/api/profile", headers=user.headers)).status_code == 401
    again = await client.post(
        "/api/auth/reset-password", json={"token": token, "new_password": "third-pass-12"}
    )
    assert again.status_code == 400 and again.json()["error"] == "invalid_token"


async def test_verification_token_cannot_reset_a_password(
    client: httpx.AsyncClient, outbox: Outbox
) -> None:
    await register(client, "mixup@example.com")
    token = outbox.token_sent_to("mixup@example.com")
    r = await client.post(
        "/api/auth/reset-password", json={"token": token, "new_password": "hijacked-pass"}
    )
    assert r.status_code == 400


async def test_weak_hash_is_upgraded_at_login(
    app: FastAPI, client: httpx.AsyncClient, user: TestUser, settings: Settings
) -> None:
    from agent_service.users import service as users

    async with app.state.sessionmaker() as session:
        before = (await users.get_user_by_email(session, user.email)).hashed_password
    settings.argon2_time_cost = 2
    assert (await login(client, user.email, user.password)).status_code == 200
    async with app.state.sessionmaker() as session:
        after = (await users.get_user_by_email(session, user.email)).hashed_password
    assert before != after and ",t=2," in after


async def test_a_new_verification_link_can_be_asked_for(
    client: httpx.AsyncClient, outbox: Outbox
) -> None:
    await register(client, "again@example.com")
    first = outbox.token_sent_to("again@example.com")
    for email in ("again@example.com", "nobody@example.com"):
        r = await client.post("/api/auth/resend-verification", json={"email": email})
        assert r.status_code == 202 and "verification link" in r.json()["detail"]
    assert len(outbox.to("again@example.com")) == 2 and not outbox.to("nobody@example.com")
    second = outbox.token_sent_to("again@example.com")
    assert second != first
    r = await client.post("/api/auth/verify-email", json={"token": second})
    assert r.status_code == 200 and r.json()["email_verified"] is True

    r = await client.post("/api/auth/resend-verification", json={"email": "again@example.com"})
    assert r.status_code == 202
    assert len(outbox.to("again@example.com")) == 2  # verified: nothing more is sent
