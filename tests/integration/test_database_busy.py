"""A database that is locked, unreachable or silent: the request gets 503 `database_busy` with
Retry-After, never a 500, and the next request works once the database is back.

SQLite: another writer holds the write lock past busy_timeout. PostgreSQL: the app reaches the
database through the fault-injecting proxy (tests/faults.py), which the test cuts or blackholes.
"""

from __future__ import annotations

import httpx
import pytest

from agent_service.settings import Settings
from tests.faults import DatabaseProxy, sqlite_path, sqlite_write_lock


@pytest.fixture
def settings(settings: Settings, request: pytest.FixtureRequest) -> Settings:
    settings.sqlite_busy_timeout_ms = 100
    settings.db_pool_timeout_s = 0.5
    if settings.resolved_database_url.startswith("postgresql"):
        proxy: DatabaseProxy = request.getfixturevalue("db_proxy")
        settings.database_url = proxy.url(settings.resolved_database_url)
    return settings


def sqlite_only(settings: Settings) -> str:
    if not settings.resolved_database_url.startswith("sqlite"):
        pytest.skip("SQLite's write lock only")
    return sqlite_path(settings.resolved_database_url)


async def test_write_while_locked_is_503_then_works(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    payload = {"email": "busy@example.com", "password": "long-enough-1"}
    with sqlite_write_lock(sqlite_only(settings)):
        assert (await client.get("/healthz")).status_code == 200
        r = await client.post("/api/auth/register", json=payload)
    assert r.status_code == 503
    assert r.json()["error"] == "database_busy"
    assert r.headers["retry-after"] == "1"
    r = await client.post("/api/auth/register", json=payload)
    assert r.status_code == 201


async def test_readiness_follows_the_database_through_the_proxy(
    client: httpx.AsyncClient, db_faults: DatabaseProxy
) -> None:
    assert (await client.get("/readyz")).status_code == 200
    db_faults.cut()
    r = await client.get("/readyz")
    assert r.status_code == 503, r.text
    db_faults.restore()
    assert (await client.get("/readyz")).status_code == 200
