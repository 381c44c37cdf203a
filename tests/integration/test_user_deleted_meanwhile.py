"""A user deleted while a request changes it: 404 user_not_found, never a 500.

Found from outside (issue 22): an admin's `PUT /api/users/{id}` racing the user's own
`DELETE /api/users/{id}` answered 500 (SQLAlchemy StaleDataError: the UPDATE matched no row).
The deletion is made to land between the request loading the user and writing it, through the
step the two routes call in between (`change_credentials`).
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import delete

from agent_service.auth import service as auth
from agent_service.users.models import User
from tests.factories import TestUser


@pytest.fixture
def deleted_meanwhile(app: FastAPI, monkeypatch: pytest.MonkeyPatch) -> list[uuid.UUID]:
    """Ids put here are deleted (by another session, committed) just before they are written."""
    doomed: list[uuid.UUID] = []
    change_credentials = auth.change_credentials

    async def deleting_first(*args: Any, **kwargs: Any) -> str | None:
        async with app.state.sessionmaker() as other:
            await other.execute(delete(User).where(User.id.in_(doomed)))
            await other.commit()
        return await change_credentials(*args, **kwargs)

    monkeypatch.setattr(auth, "change_credentials", deleting_first)
    return doomed


@pytest.mark.parametrize("change", [{"is_active": False}, {"name": "New name"}])
async def test_an_admin_changing_a_user_deleted_meanwhile_gets_404(
    client: httpx.AsyncClient,
    admin: TestUser,
    user: TestUser,
    deleted_meanwhile: list[uuid.UUID],
    change: dict[str, Any],
) -> None:
    deleted_meanwhile.append(uuid.UUID(str(user.id)))
    r = await client.put(f"/api/users/{user.id}", headers=admin.headers, json=change)
    assert r.status_code == 404, r.text
    assert r.json()["error"] == "user_not_found"
    assert (await client.get(f"/api/users/{user.id}", headers=admin.headers)).status_code == 404


async def test_a_profile_change_of_a_user_deleted_meanwhile_gets_404(
    client: httpx.AsyncClient, user: TestUser, deleted_meanwhile: list[uuid.UUID]
) -> None:
    deleted_meanwhile.append(uuid.UUID(str(user.id)))
    r = await client.patch("/api/profile", headers=user.headers, json={"name": "New name"})
    assert r.status_code == 404, r.text
    assert r.json()["error"] == "user_not_found"
