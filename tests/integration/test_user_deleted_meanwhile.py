"""A user deleted while a request changes it: 404 user_not_found, never a 500.

Found from outside (issue 22): an admin's `PUT /api/users/{id}` racing the user's own
`DELETE /api/users/{id}` answered 500 (SQLAlchemy StaleDataError: the UPDATE matched no row).
The fault here is the database's: while inside `updates_skipped`, an UPDATE of the user's row
matches no row, which is what the request's write meets when the row was deleted after the
request loaded it.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.database import updates_skipped
from tests.factories import TestUser


@pytest.mark.parametrize("change", [{"is_active": False}, {"name": "New name"}])
async def test_an_admin_changing_a_user_deleted_meanwhile_gets_404(
    app: FastAPI,
    client: httpx.AsyncClient,
    admin: TestUser,
    user: TestUser,
    change: dict[str, Any],
) -> None:
    async with updates_skipped(app.state.engine, '"user"', when="TRUE"):
        r = await client.put(f"/api/users/{user.id}", headers=admin.headers, json=change)

    assert r.status_code == 404, r.text
    assert r.json()["error"] == "user_not_found"
    again = await client.put(f"/api/users/{user.id}", headers=admin.headers, json=change)
    assert again.status_code == 200, again.text  # the fault gone: the same change is made


async def test_a_profile_change_of_a_user_deleted_meanwhile_gets_404(
    app: FastAPI, client: httpx.AsyncClient, user: TestUser
) -> None:
    async with updates_skipped(app.state.engine, '"user"', when="TRUE"):
        r = await client.patch("/api/profile", headers=user.headers, json={"name": "New name"})

    assert r.status_code == 404, r.text
    assert r.json()["error"] == "user_not_found"
