"""`SqliteWriter`: on a SQLite file, a process's connections write one at a time, in the order
they asked, while reads go on beside the writer; the turn to write goes back whatever ends the
transaction (commit, rollback, a failed statement, a closed connection), and a wait past the busy
timeout is SQLite's own "database is locked" (which the app answers with 503 database_busy)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from agent_service.db import create_engine, sqlite_writer
from agent_service.errors import database_unavailable

BUSY_TIMEOUT_MS = 2_000


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(
        f"sqlite+aiosqlite:///{tmp_path / 'w.db'}", sqlite_busy_timeout_ms=BUSY_TIMEOUT_MS
    )
    async with engine.begin() as connection:
        await connection.execute(text("CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT)"))
    yield engine
    await engine.dispose()


async def insert(connection: AsyncConnection, name: str) -> None:
    await connection.execute(text("INSERT INTO item (name) VALUES (:name)"), {"name": name})


async def names(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as connection:
        return list((await connection.execute(text("SELECT name FROM item ORDER BY id"))).scalars())


async def test_writers_take_turns_in_order_while_reads_go_on(engine: AsyncEngine) -> None:
    order: list[str] = []

    async def write(name: str) -> None:
        async with engine.begin() as connection:
            await insert(connection, name)
            order.append(name)

    async with engine.connect() as first:
        await insert(first, "first")
        writer = sqlite_writer(engine)
        assert writer is not None
        waiting = []
        for name in ("second", "third", "fourth"):
            waiting.append(asyncio.create_task(write(name)))
            deadline = time.monotonic() + 5  # asked in this order: each in line before the next
            while writer.waiting < len(waiting):
                assert time.monotonic() < deadline, f"{name} never asked for the turn to write"
                await asyncio.sleep(0.005)
        async with asyncio.timeout(5):
            assert await names(engine) == []  # a read is not held up by the writer
        assert order == []  # nobody else wrote while the first held its turn
        await first.commit()
    async with asyncio.timeout(10):
        await asyncio.gather(*waiting)
    assert order == ["second", "third", "fourth"]
    assert await names(engine) == ["first", "second", "third", "fourth"]


@pytest.mark.parametrize("end", ["rollback", "failed statement then rollback", "close"])
async def test_the_turn_goes_back_however_the_transaction_ends(
    engine: AsyncEngine, end: str
) -> None:
    async with engine.connect() as connection:
        await insert(connection, "kept" if end == "failed statement then rollback" else "dropped")
        if end == "rollback":
            await connection.rollback()
        elif end == "failed statement then rollback":
            await connection.commit()
            with pytest.raises(IntegrityError):
                await connection.execute(text("INSERT INTO item (id, name) VALUES (1, 'dup')"))
            await connection.rollback()
        else:
            await connection.invalidate()  # the pool closes it, mid-transaction
    async with asyncio.timeout(5), engine.begin() as connection:
        await insert(connection, "next")
    expected = ["kept", "next"] if end == "failed statement then rollback" else ["next"]
    assert await names(engine) == expected


async def test_a_wait_past_the_busy_timeout_is_database_is_locked(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'w.db'}", sqlite_busy_timeout_ms=50)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT)"))
        async with engine.connect() as holder, engine.connect() as late:
            await insert(holder, "held")
            with pytest.raises(OperationalError, match="database is locked") as raised:
                await insert(late, "late")
            assert database_unavailable(raised.value) is not None
            await late.rollback()
            await holder.commit()
            await insert(late, "late")
            await late.commit()
        assert await names(engine) == ["held", "late"]
    finally:
        await engine.dispose()
