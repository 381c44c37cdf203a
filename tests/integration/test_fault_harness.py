"""The fault-injection harness itself (tests/faults.py): each fault does to a real PostgreSQL
connection, or to a real SQLite file, what the tests that use it rely on."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.faults import DatabaseProxy, SqliteContention, sqlite_path, sqlite_write_lock
from tests.service_process import running_service


def dsn(proxy: DatabaseProxy, database_url: str) -> str:
    return proxy.url(database_url).replace("postgresql+psycopg://", "postgresql://", 1)


async def select_one(connection: psycopg.AsyncConnection[tuple[int]]) -> int:
    cursor = await connection.execute("SELECT 1")
    row = await cursor.fetchone()
    assert row is not None
    return row[0]


async def test_cut_resets_open_connections_and_refuses_new_ones(
    db_proxy: DatabaseProxy, database_url: str
) -> None:
    url = dsn(db_proxy, database_url)
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as connection:
        assert await select_one(connection) == 1
        assert db_proxy.open_connections == 1

        db_proxy.cut()

        with pytest.raises(psycopg.OperationalError):
            await select_one(connection)
    assert db_proxy.open_connections == 0
    with pytest.raises(psycopg.OperationalError, match="refused"):
        await psycopg.AsyncConnection.connect(url, connect_timeout=5)

    db_proxy.restore()

    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as connection:
        assert await select_one(connection) == 1


async def test_blackhole_holds_bytes_and_restore_delivers_them(
    db_proxy: DatabaseProxy, database_url: str
) -> None:
    url = dsn(db_proxy, database_url)
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as connection:
        db_proxy.blackhole()
        query = asyncio.create_task(select_one(connection))
        done, _ = await asyncio.wait({query}, timeout=0.3)
        assert not done, "a blackholed connection answered"
        accepted = db_proxy.accepted
        connecting = asyncio.create_task(psycopg.AsyncConnection.connect(url, connect_timeout=5))
        done, _ = await asyncio.wait({connecting}, timeout=0.3)
        assert not done, "a connection through a blackhole completed its start-up"
        assert db_proxy.accepted == accepted + 1  # accepted, unlike a cut

        db_proxy.restore()

        async with asyncio.timeout(10):
            assert await query == 1
            async with await connecting as late:
                assert await select_one(late) == 1


async def test_slow_delays_each_round_trip(db_proxy: DatabaseProxy, database_url: str) -> None:
    url = dsn(db_proxy, database_url)
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as connection:
        db_proxy.slow(100)
        started = time.monotonic()
        assert await select_one(connection) == 1
        assert time.monotonic() - started >= 0.2  # one chunk each way, 100 ms each
        db_proxy.restore()
        assert await select_one(connection) == 1


def test_a_served_process_reaches_its_database_through_the_proxy(
    proxied_database_url: tuple[DatabaseProxy, str], tmp_path: Path
) -> None:
    proxy, url = proxied_database_url
    env = {"DATABASE_URL": url, "DATA_DIR": str(tmp_path / "data"), "ENVIRONMENT": "dev"}
    with running_service(env, log_path=tmp_path / "serve.log") as base_url:
        assert proxy.accepted > 0
        proxy.cut()
        r = httpx.get(f"{base_url}/readyz", timeout=10)
        assert r.status_code == 503, r.text
        proxy.restore()
        r = httpx.get(f"{base_url}/readyz", timeout=10)
        assert r.status_code == 200, r.text


def begin_immediate_fails(path: str) -> bool:
    """Whether a writer that does not wait finds the write lock taken."""
    connection = sqlite3.connect(path, isolation_level=None, timeout=0)
    try:
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError as exc:
        if "database is locked" not in str(exc):
            raise
        return True
    finally:
        connection.close()


def test_sqlite_contention_keeps_the_write_lock_taken(
    sqlite_contention: Callable[..., SqliteContention], database_url: str
) -> None:
    path = sqlite_path(database_url)
    with sqlite_contention(writers=4, hold_ms=20, gap_ms=1) as writers:
        deadline = time.monotonic() + 10
        while not begin_immediate_fails(path):
            assert time.monotonic() < deadline, "the contending writers never held the lock"
    assert writers.holds >= 1
    assert not begin_immediate_fails(path)


def test_sqlite_write_lock_holds_until_released(database_url: str) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite's write lock only")
    path = sqlite_path(database_url)
    with sqlite_write_lock(path):
        assert begin_immediate_fails(path)
    assert not begin_immediate_fails(path)
