"""The last active administrator can be neither demoted, disabled nor deleted (409 last_admin);
with two, either may go, and the CLI can always make a new one."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, update

from agent_service.users.models import User
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


@pytest.mark.parametrize(
    "change", [{"is_admin": False}, {"is_active": False}, None], ids=["demote", "disable", "delete"]
)
async def test_two_admins_removing_each_other_at_once_leave_one(
    app: FastAPI, client: httpx.AsyncClient, make_user: MakeUser, change: dict[str, bool] | None
) -> None:
    """Found from outside on SQLite (issue 22): both demotions answered 200 and left no admin;
    each had counted the other before either wrote (SQLite has no SELECT ... FOR UPDATE)."""

    async def remove(target: TestUser, actor: TestUser) -> httpx.Response:
        url = f"/api/users/{target.id}"
        if change is None:
            return await client.delete(url, headers=actor.headers)
        return await client.put(url, headers=actor.headers, json=change)

    for _ in range(5):
        async with app.state.sessionmaker() as session:  # only these two are admins
            await session.execute(update(User).values(is_admin=False))
            await session.commit()
        first, second = await make_user(is_admin=True), await make_user(is_admin=True)
        answers = await asyncio.gather(remove(second, first), remove(first, second))
        assert sorted(r.status_code for r in answers) not in ([200, 200], [204, 204])
        async with app.state.sessionmaker() as session:
            admins = await session.scalar(
                select(func.count())
                .select_from(User)
                .where(User.is_admin.is_(True), User.is_active.is_(True))
            )
        assert admins == 1, [(r.status_code, r.text) for r in answers]
