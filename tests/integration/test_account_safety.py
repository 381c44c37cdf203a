"""A token alone never takes over an account: every route that changes a password or an email.

Each route is tried as the user, as another user and as an admin. A change of either revokes the
older tokens; a new email is unverified until the link mailed to it is used.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import MakeUser, Outbox
from tests.factories import TestUser

NEW_PASSWORD = "brand-new-pass-1"

# (method, path template, password field): the two routes a user changes itself through
SELF_ROUTES = [
    pytest.param("PUT", "/api/users/{id}", "password", id="put-user"),
    pytest.param("PATCH", "/api/profile", "new_password", id="patch-profile"),
]


async def send(
    client: httpx.AsyncClient, method: str, path: str, who: TestUser, target: TestUser, **body: Any
) -> httpx.Response:
    return await client.request(method, path.format(id=target.id), headers=who.headers, json=body)


async def can_log_in(client: httpx.AsyncClient, email: str, password: str) -> bool:
    r = await client.post("/api/auth/login", json={"email": email, "password": password})
    return r.status_code == 200


async def token_works(client: httpx.AsyncClient, who: TestUser) -> bool:
    return (await client.get("/api/profile", headers=who.headers)).status_code == 200


@pytest.mark.parametrize(("method", "path", "field"), SELF_ROUTES)
@pytest.mark.parametrize("kind", ["password", "email"])
async def test_own_change_without_current_password_is_403(
    client: httpx.AsyncClient, user: TestUser, method: str, path: str, field: str, kind: str
) -> None:
    change = {field: NEW_PASSWORD} if kind == "password" else {"email": "taken-over@example.com"}
    r = await send(client, method, path, user, user, **change)
    assert r.status_code == 403
    assert r.json()["error"] == "current_password_required"
    assert set(r.json()) == {"error", "detail"}
    assert await token_works(client, user)
    assert await can_log_in(client, user.email, user.password)


@pytest.mark.parametrize(("method", "path", "field"), SELF_ROUTES)
@pytest.mark.parametrize("kind", ["password", "email"])
async def test_own_change_with_wrong_current_password_is_401(
    client: httpx.AsyncClient, user: TestUser, method: str, path: str, field: str, kind: str
) -> None:
    change = {field: NEW_PASSWORD} if kind == "password" else {"email": "taken-over@example.com"}
    r = await send(client, method, path, user, user, current_password="not-it-at-all", **change)
    assert r.status_code == 401
    assert r.json()["error"] == "invalid_current_password"
    assert await token_works(client, user)
    assert await can_log_in(client, user.email, user.password)


@pytest.mark.parametrize(("method", "path", "field"), SELF_ROUTES)
async def test_own_password_change_revokes_older_tokens(
    client: httpx.AsyncClient, user: TestUser, method: str, path: str, field: str
) -> None:
    r = await send(
        client, method, path, user, user, current_password=user.password, **{field: NEW_PASSWORD}
    )
    assert r.status_code == 200, r.text
    assert not await token_works(client, user)
    assert not await can_log_in(client, user.email, user.password)
    assert await can_log_in(client, user.email, NEW_PASSWORD)


@pytest.mark.parametrize(("method", "path", "field"), SELF_ROUTES)
async def test_own_email_change_is_unverified_until_the_new_mail_is_used(
    client: httpx.AsyncClient,
    user: TestUser,
    outbox: Outbox,
    method: str,
    path: str,
    field: str,
) -> None:
    new_email = f"moved-{user.id.hex[:8]}@example.com"
    r = await send(
        client, method, path, user, user, current_password=user.password, email=new_email
    )
    assert r.status_code == 200, r.text
    assert r.json()["email"] == new_email
    assert r.json()["email_verified"] is False
    assert not await token_works(client, user)  # older tokens are revoked

    token = outbox.token_sent_to(new_email)
    r = await client.post("/api/auth/verify-email", json={"token": token})
    assert r.status_code == 200
    assert r.json()["email_verified"] is True
    assert await can_log_in(client, new_email, user.password)
    assert not await can_log_in(client, user.email, user.password)


async def test_a_verification_sent_to_an_earlier_new_address_stops_working(
    client: httpx.AsyncClient, user: TestUser, outbox: Outbox
) -> None:
    """Two changes in a row: the first address's link must not verify the second address."""
    first, second = f"first-{user.id.hex[:8]}@example.com", f"second-{user.id.hex[:8]}@example.com"
    body = {"current_password": user.password}
    r = await client.patch("/api/profile", headers=user.headers, json={**body, "email": first})
    assert r.status_code == 200
    first_token = outbox.token_sent_to(first)
    login = await client.post("/api/auth/login", json={"email": first, "password": user.password})
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    r = await client.patch("/api/profile", headers=headers, json={**body, "email": second})
    assert r.status_code == 200

    r = await client.post("/api/auth/verify-email", json={"token": first_token})
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_token"
    r = await client.post("/api/auth/verify-email", json={"token": outbox.token_sent_to(second)})
    assert r.json()["email"] == second
    assert r.json()["email_verified"] is True


async def test_taken_email_is_refused_only_after_the_current_password(
    client: httpx.AsyncClient, user: TestUser, other_user: TestUser
) -> None:
    """A token alone cannot probe which emails have accounts."""
    r = await client.patch("/api/profile", headers=user.headers, json={"email": other_user.email})
    assert r.status_code == 403
    r = await client.patch(
        "/api/profile",
        headers=user.headers,
        json={"email": other_user.email, "current_password": user.password},
    )
    assert r.status_code == 400
    assert r.json()["error"] == "email_taken"
    assert await token_works(client, user)


async def test_unchanged_email_and_name_need_no_current_password(
    client: httpx.AsyncClient, user: TestUser
) -> None:
    r = await client.put(
        f"/api/users/{user.id}", headers=user.headers, json={"email": user.email, "name": "Same"}
    )
    assert r.status_code == 200
    assert r.json()["email_verified"] is True
    assert await token_works(client, user)


@pytest.mark.parametrize("kind", ["password", "email"])
async def test_another_user_cannot_change_them(
    client: httpx.AsyncClient, user: TestUser, other_user: TestUser, kind: str
) -> None:
    change = {"password": NEW_PASSWORD} if kind == "password" else {"email": "stolen@example.com"}
    r = await send(
        client, "PUT", "/api/users/{id}", user, other_user, current_password=user.password, **change
    )
    assert r.status_code == 403
    assert await token_works(client, other_user)
    assert await can_log_in(client, other_user.email, other_user.password)


async def test_admin_sets_another_users_password_and_revokes_its_tokens(
    client: httpx.AsyncClient, admin: TestUser, user: TestUser
) -> None:
    r = await send(client, "PUT", "/api/users/{id}", admin, user, password=NEW_PASSWORD)
    assert r.status_code == 200
    assert not await token_works(client, user)
    assert await can_log_in(client, user.email, NEW_PASSWORD)
    assert await token_works(client, admin)


async def test_admin_changes_another_users_email_which_must_be_verified(
    client: httpx.AsyncClient, admin: TestUser, user: TestUser, outbox: Outbox
) -> None:
    new_email = f"by-admin-{user.id.hex[:8]}@example.com"
    r = await send(client, "PUT", "/api/users/{id}", admin, user, email=new_email)
    assert r.status_code == 200
    assert r.json()["email_verified"] is False
    assert not await token_works(client, user)
    assert outbox.token_sent_to(new_email)


@pytest.mark.parametrize(("method", "path", "field"), SELF_ROUTES)
async def test_admin_changing_its_own_password_needs_the_current_one(
    client: httpx.AsyncClient, admin: TestUser, method: str, path: str, field: str
) -> None:
    r = await send(client, method, path, admin, admin, **{field: NEW_PASSWORD})
    assert r.status_code == 403
    assert r.json()["error"] == "current_password_required"
    r = await send(
        client, method, path, admin, admin, current_password=admin.password, **{field: NEW_PASSWORD}
    )
    assert r.status_code == 200
    assert not await token_works(client, admin)


async def test_reset_password_revokes_tokens_and_other_reset_links(
    client: httpx.AsyncClient, make_user: MakeUser, outbox: Outbox
) -> None:
    user = await make_user()
    for _ in range(2):
        r = await client.post("/api/auth/forgot-password", json={"email": user.email})
        assert r.status_code == 202
    first, second = [m.get_payload(decode=True) for m in outbox.to(user.email)]
    tokens = [
        body.decode().split("?token=", 1)[1].split()[0]
        for body in (first, second)
        if isinstance(body, bytes)
    ]
    r = await client.post(
        "/api/auth/reset-password", json={"token": tokens[1], "new_password": NEW_PASSWORD}
    )
    assert r.status_code == 200
    assert not await token_works(client, user)
    assert await can_log_in(client, user.email, NEW_PASSWORD)

    r = await client.post(
        "/api/auth/reset-password", json={"token": tokens[0], "new_password": "attacker-pass-1"}
    )
    assert r.status_code == 400
    assert await can_log_in(client, user.email, NEW_PASSWORD)


async def test_a_password_change_voids_pending_reset_links(
    client: httpx.AsyncClient, user: TestUser, outbox: Outbox
) -> None:
    await client.post("/api/auth/forgot-password", json={"email": user.email})
    reset_token = outbox.token_sent_to(user.email)
    r = await client.patch(
        "/api/profile",
        headers=user.headers,
        json={"current_password": user.password, "new_password": NEW_PASSWORD},
    )
    assert r.status_code == 200
    r = await client.post(
        "/api/auth/reset-password", json={"token": reset_token, "new_password": "attacker-pass-1"}
    )
    assert r.status_code == 400
    assert await can_log_in(client, user.email, NEW_PASSWORD)
