"""Users CRUD with the admin/self rules, profile changes, and the admin overview."""

from __future__ import annotations

import httpx
import pytest

from tests.factories import UNKNOWN_ID, TestUser


def assert_no_secrets(body: object) -> None:
    text = str(body)
    assert "password" not in text
    assert "argon2" not in text


async def test_user_reads_itself_but_not_others(
    client: httpx.AsyncClient, user: TestUser, other_user: TestUser
) -> None:
    r = await client.get(f"/api/users/{user.id}", headers=user.headers)
    assert r.status_code == 200
    assert r.json()["email"] == user.email
    assert_no_secrets(r.json())

    r = await client.get(f"/api/users/{other_user.id}", headers=user.headers)
    assert r.status_code == 403
    assert r.json()["error"] == "forbidden"


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
async def test_user_cannot_touch_another_user(
    client: httpx.AsyncClient, user: TestUser, other_user: TestUser, method: str
) -> None:
    r = await client.request(
        method, f"/api/users/{other_user.id}", headers=user.headers, json={"name": "x"}
    )
    assert r.status_code == 403
    # and the other account is untouched
    r = await client.get(f"/api/users/{other_user.id}", headers=other_user.headers)
    assert r.status_code == 200
    assert r.json()["name"] != "x"


async def test_non_admin_gets_403_on_admin_routes(
    client: httpx.AsyncClient, user: TestUser
) -> None:
    for method, path in [
        ("GET", "/api/users"),
        ("POST", "/api/users"),
        ("GET", "/api/admin/users"),
    ]:
        r = await client.request(
            method,
            path,
            headers=user.headers,
            json={"email": "new@example.com", "password": "long-enough-1"},
        )
        assert r.status_code == 403, (method, path)
        assert r.json()["error"] == "admin_required"


async def test_admin_creates_lists_updates_deletes(
    client: httpx.AsyncClient, admin: TestUser, user: TestUser
) -> None:
    r = await client.post(
        "/api/users",
        headers=admin.headers,
        json={"email": "made@example.com", "password": "long-enough-1", "email_verified": True},
    )
    assert r.status_code == 201
    made = r.json()
    assert made["email_verified"] is True
    assert_no_secrets(made)

    r = await client.get("/api/users", headers=admin.headers, params={"limit": 2})
    assert r.status_code == 200
    page = r.json()
    assert r.headers["x-total-count"] == "3"
    assert len(page) == 2
    assert_no_secrets(page)

    r = await client.put(
        f"/api/users/{user.id}", headers=admin.headers, json={"is_admin": True, "name": "Boss"}
    )
    assert r.status_code == 200
    assert r.json()["is_admin"] is True
    assert r.json()["name"] == "Boss"

    r = await client.delete(f"/api/users/{made['id']}", headers=admin.headers)
    assert r.status_code == 204
    r = await client.get(f"/api/users/{made['id']}", headers=admin.headers)
    assert r.status_code == 404
    assert r.json()["error"] == "user_not_found"


async def test_admin_duplicate_email_is_400(client: httpx.AsyncClient, admin: TestUser) -> None:
    r = await client.post(
        "/api/users", headers=admin.headers, json={"email": admin.email, "password": "long-pass-1"}
    )
    assert r.status_code == 400
    assert "email" in r.json()["detail"]


async def test_user_updates_itself_but_not_its_role(
    client: httpx.AsyncClient, user: TestUser
) -> None:
    r = await client.put(f"/api/users/{user.id}", headers=user.headers, json={"name": "New Name"})
    assert r.status_code == 200
    assert r.json()["name"] == "New Name"

    r = await client.put(f"/api/users/{user.id}", headers=user.headers, json={"is_admin": True})
    assert r.status_code == 403
    r = await client.get("/api/profile", headers=user.headers)
    assert r.json()["is_admin"] is False


async def test_update_to_taken_email_is_400(
    client: httpx.AsyncClient, user: TestUser, other_user: TestUser
) -> None:
    r = await client.put(
        f"/api/users/{user.id}",
        headers=user.headers,
        json={"email": other_user.email, "current_password": user.password},
    )
    assert r.status_code == 400
    assert r.json()["error"] == "email_taken"


async def test_deleted_user_token_stops_working(client: httpx.AsyncClient, user: TestUser) -> None:
    assert (await client.delete(f"/api/users/{user.id}", headers=user.headers)).status_code == 204
    r = await client.get("/api/profile", headers=user.headers)
    assert r.status_code == 401


async def test_deactivated_user_is_locked_out(
    client: httpx.AsyncClient, admin: TestUser, user: TestUser
) -> None:
    r = await client.put(f"/api/users/{user.id}", headers=admin.headers, json={"is_active": False})
    assert r.status_code == 200
    assert (await client.get("/api/profile", headers=user.headers)).status_code == 401
    r = await client.post("/api/auth/login", json={"email": user.email, "password": user.password})
    assert r.status_code == 403
    assert r.json()["error"] == "account_disabled"


async def test_password_change_needs_current_password(
    client: httpx.AsyncClient, user: TestUser
) -> None:
    r = await client.patch(
        "/api/profile", headers=user.headers, json={"new_password": "changed-pass-1"}
    )
    assert r.status_code == 403
    assert r.json()["error"] == "current_password_required"
    r = await client.patch(
        "/api/profile",
        headers=user.headers,
        json={"current_password": "wrong", "new_password": "changed-pass-1"},
    )
    assert r.status_code == 401
    assert r.json()["error"] == "invalid_current_password"

    r = await client.patch(
        "/api/profile",
        headers=user.headers,
        json={"current_password": user.password, "new_password": "changed-pass-1", "name": "Z"},
    )
    assert r.status_code == 200
    assert r.json()["name"] == "Z"
    login = await client.post(
        "/api/auth/login", json={"email": user.email, "password": "changed-pass-1"}
    )
    assert login.status_code == 200
    # tokens from before the change are revoked
    assert (await client.get("/api/profile", headers=user.headers)).status_code == 401


async def test_profile_rejects_unknown_fields(client: httpx.AsyncClient, user: TestUser) -> None:
    r = await client.patch("/api/profile", headers=user.headers, json={"is_admin": True})
    assert r.status_code == 422


async def test_admin_overview_has_counts(
    client: httpx.AsyncClient, admin: TestUser, user: TestUser
) -> None:
    await client.post("/api/auth/forgot-password", json={"email": user.email})
    r = await client.get("/api/admin/users", headers=admin.headers)
    assert r.status_code == 200
    rows = {row["email"]: row for row in r.json()}
    assert rows[user.email]["counts"]["pending_email_tokens"] == 1
    assert rows[admin.email]["counts"]["pending_email_tokens"] == 0
    assert_no_secrets(r.json())


@pytest.mark.parametrize("bad_id", ["not-a-uuid", "123", UNKNOWN_ID])
async def test_unknown_or_malformed_user_id_is_404_for_admin(
    client: httpx.AsyncClient, admin: TestUser, bad_id: str
) -> None:
    r = await client.get(f"/api/users/{bad_id}", headers=admin.headers)
    assert r.status_code == 404
    assert r.json()["error"] == "user_not_found"
