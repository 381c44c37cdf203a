"""SQLite under a held write lock: the request waits busy_timeout, then gets 503, not a 500."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from agent_service.settings import Settings

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("TEST_DATABASE_URL")), reason="SQLite's write lock only"
)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    settings.sqlite_busy_timeout_ms = 100
    return settings


@contextmanager
def write_lock(settings: Settings) -> Iterator[None]:
    """Another process's writer, as sqlite3 sees it: BEGIN IMMEDIATE held meanwhile."""
    path = settings.resolved_database_url.split(":///", 1)[1]
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        holder.execute("ROLLBACK")
        holder.close()


async def test_write_while_locked_is_503_then_works(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    payload = {"email": "busy@example.com", "password": "long-enough-1"}
    with write_lock(settings):
        assert (await client.get("/healthz")).status_code == 200
        r = await client.post("/api/auth/register", json=payload)
    assert r.status_code == 503
    assert r.json()["error"] == "database_busy"
    assert r.headers["retry-after"] == "1"
    r = await client.post("/api/auth/register", json=payload)
    assert r.status_code == 201
