"""The last active administrator can be neither demoted, disabled nor deleted (409 last_admin);
with two, either may go, and the CLI can always make a new one."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import MakeUser
from tests.factories import TestUser


@pytest.mark.parametrize(
    "change", [{"is_admin": False}, {"is_active": False}, {"is_admin": False, "is_active": False}]
)
async def test_the_last_admin_cannot_be_demoted_or_disabled(
    client: httpx.AsyncClient, admin: TestUser, change: dict[str, bool]
) -> None:
    r = await client.put(f"/api/users/{admin.id}", headers=admin.headers, json=change)
    assert r.status_code == 409
    assert r.json()["error"] == "last_admin"
    me = await client.get("/api/profile", headers=admin.headers)
    assert me.json()["is_admin"] is True and me.json()["is_active"] is True


async def test_the_last_admin_cannot_be_deleted(client: httpx.AsyncClient, admin: TestUser) -> None:
    r = await client.delete(f"/api/users/{admin.id}", headers=admin.headers)
    assert r.status_code == 409
    assert r.json()["error"] == "last_admin"
    assert (await client.get("/api/profile", headers=admin.headers)).status_code == 200


async def test_with_two_admins_one_may_go_but_not_both(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    first, second = await make_user(is_admin=True), await make_user(is_admin=True)
    r = await client.put(f"/api/users/{second.id}", headers=first.headers, json={"is_admin": False})
    assert r.status_code == 200
    r = await client.delete(f"/api/users/{first.id}", headers=first.headers)
    assert r.status_code == 409


async def test_a_disabled_admin_does_not_count(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    first, second = await make_user(is_admin=True), await make_user(is_admin=True)
    r = await client.put(
        f"/api/users/{second.id}", headers=first.headers, json={"is_active": False}
    )
    assert r.status_code == 200
    r = await client.put(f"/api/users/{first.id}", headers=first.headers, json={"is_admin": False})
    assert r.status_code == 409


async def test_ordinary_users_come_and_go(
    client: httpx.AsyncClient, admin: TestUser, user: TestUser
) -> None:
    r = await client.put(f"/api/users/{user.id}", headers=admin.headers, json={"is_active": False})
    assert r.status_code == 200
    assert (await client.delete(f"/api/users/{user.id}", headers=admin.headers)).status_code == 204
