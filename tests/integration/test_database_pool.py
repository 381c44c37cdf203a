"""Every pooled connection taken: a request waits DB_POOL_TIMEOUT_S, then gets 503 database_busy
with Retry-After (not a 500), and works again once a connection is free. Both databases."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from agent_service.settings import Settings
from tests.factories import TestUser


@pytest.fixture
def settings(settings: Settings) -> Settings:
    settings.db_pool_size = 1
    settings.db_max_overflow = 0
    settings.db_pool_timeout_s = 0.2
    return settings


async def test_an_exhausted_pool_is_503_then_works(
    app: FastAPI, client: httpx.AsyncClient, user: TestUser
) -> None:
    async with app.state.engine.connect() as held:  # the pool's only connection
        await held.execute(text("SELECT 1"))
        r = await client.get("/api/tasks", headers=user.headers)
    assert r.status_code == 503, r.text
    assert r.json()["error"] == "database_busy"
    assert r.headers["Retry-After"] == "1"

    r = await client.get("/api/tasks", headers=user.headers)
    assert r.status_code == 200, r.text
