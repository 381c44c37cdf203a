"""What one SQL statement costs the service's own process, by layer: the floor under a chat turn.

    .venv/bin/python benchmarks/bench_sql_statement.py [--statements 3000] [--sqlite-only]
        [--json PATH]

A chat turn with a tool call issues 22 statements (`profile_turn.py --statements`); this measures
what each costs in CPU of the calling process, the same two statements (a primary-key SELECT of
one row, an INSERT of one row) through three layers, in one run:

- `sqlalchemy async`: as the service issues them, `AsyncSession.execute` on the asyncio engine
  (aiosqlite or psycopg async);
- `driver async`: the same driver alone (aiosqlite's `execute_fetchall`, one trip to its thread;
  psycopg's `AsyncConnection`);
- `driver sync`: the blocking driver (sqlite3, psycopg), the floor.

SQLite: a file in a temporary folder (WAL, as the service opens it). PostgreSQL: TEST_DATABASE_URL
(or postgresql://postgres@127.0.0.1:5432/test) names a server where a database is created and
dropped afterwards; skipped if unreachable. CPU is this process's (`time.process_time`): the database server's own work on
PostgreSQL is not in it, so the figure is what the service's single event loop pays. The async
layers run on uvloop, as `agent-service serve` does (uvicorn takes it when it is installed).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import String, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

WARMUP = 100
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
Figures = dict[str, tuple[float, float]]  # layer: (SELECT, INSERT) microseconds
T = TypeVar("T")


def run(work: Coroutine[Any, Any, T]) -> T:
    """On uvloop, as the service's server runs (the default loop where uvloop is missing)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(work)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(work)


class Base(DeclarativeBase):
    pass


class Item(Base):
    __tablename__ = "bench_item"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(40))


def cpu_per_call(work: Callable[[], None], count: int) -> float:
    """Microseconds of this process's CPU per call."""
    for _ in range(WARMUP):
        work()
    started = time.process_time()
    for _ in range(count):
        work()
    return (time.process_time() - started) / count * 1e6


async def acpu_per_call(work: Callable[[], Awaitable[None]], count: int) -> float:
    for _ in range(WARMUP):
        await work()
    started = time.process_time()
    for _ in range(count):
        await work()
    return (time.process_time() - started) / count * 1e6


async def through_sqlalchemy(url: str, known: str, count: int) -> tuple[float, float]:
    engine = create_async_engine(url)
    try:
        async with AsyncSession(engine) as session:
            by_id = select(Item.name).where(Item.id == known)

            async def read() -> None:
                (await session.execute(by_id)).scalar_one()

            async def write() -> None:
                await session.execute(insert(Item).values(id=str(uuid.uuid4()), name="x"))

            reads = await acpu_per_call(read, count)
            writes = await acpu_per_call(write, count)
            await session.commit()
        return reads, writes
    finally:
        await engine.dispose()


SELECT_SQL = "SELECT name FROM bench_item WHERE id = ?"
INSERT_SQL = "INSERT INTO bench_item (id, name) VALUES (?, ?)"


def statements(marker: str) -> tuple[str, str]:
    """The SELECT and the INSERT with the driver's own parameter marker (`?` or `%s`)."""
    return SELECT_SQL.replace("?", marker), INSERT_SQL.replace("?", marker)


async def through_aiosqlite(path: Path, known: str, count: int) -> tuple[float, float]:
    import aiosqlite

    select_sql, insert_sql = statements("?")
    async with aiosqlite.connect(path) as conn:

        async def read() -> None:  # execute and fetch in one trip to aiosqlite's thread
            assert len(list(await conn.execute_fetchall(select_sql, (known,)))) == 1

        async def write() -> None:
            await conn.execute(insert_sql, (str(uuid.uuid4()), "x"))

        reads = await acpu_per_call(read, count)
        writes = await acpu_per_call(write, count)
        await conn.commit()
    return reads, writes


async def through_psycopg_async(dsn: str, known: str, count: int) -> tuple[float, float]:
    import psycopg

    select_sql, insert_sql = statements("%s")
    async with await psycopg.AsyncConnection.connect(dsn) as conn:

        async def read() -> None:
            assert len(await (await conn.execute(select_sql, (known,))).fetchall()) == 1

        async def write() -> None:
            await conn.execute(insert_sql, (str(uuid.uuid4()), "x"))

        reads = await acpu_per_call(read, count)
        writes = await acpu_per_call(write, count)
        await conn.commit()
    return reads, writes


def through_blocking_driver(conn: Any, marker: str, known: str, count: int) -> tuple[float, float]:
    """sqlite3 or psycopg, whose connections both `execute` and `commit` (the caller closes)."""
    select_sql, insert_sql = statements(marker)

    def read() -> None:
        assert len(conn.execute(select_sql, (known,)).fetchall()) == 1

    def write() -> None:
        conn.execute(insert_sql, (str(uuid.uuid4()), "x"))

    reads, writes = cpu_per_call(read, count), cpu_per_call(write, count)
    conn.commit()
    return reads, writes


def prepare(sync_url: str) -> str:
    """The table with one known row; its id."""
    from sqlalchemy import create_engine

    engine = create_engine(sync_url)
    known = str(uuid.uuid4())
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA journal_mode=WAL")
        Base.metadata.create_all(conn)
        conn.execute(insert(Item).values(id=known, name="known"))
    engine.dispose()
    return known


def report(rows: list[tuple[str, tuple[float, float]]]) -> None:
    floor_read, floor_write = rows[-1][1]
    print(f"{'layer':<20} {'SELECT us':>10} {'x floor':>8} {'INSERT us':>10} {'x floor':>8}")
    for label, (reads, writes) in rows:
        print(
            f"{label:<20} {reads:>10.1f} {reads / floor_read:>8.1f} "
            f"{writes:>10.1f} {writes / floor_write:>8.1f}"
        )


def run_sqlite(count: int) -> Figures:
    with tempfile.TemporaryDirectory(prefix="bench-sql-") as folder:
        path = Path(folder) / "bench.db"
        known = prepare(f"sqlite:///{path}")
        with contextlib.closing(sqlite3.connect(path)) as blocking:
            floor = through_blocking_driver(blocking, "?", known, count)
        rows = [
            (
                "sqlalchemy async",
                run(through_sqlalchemy(f"sqlite+aiosqlite:///{path}", known, count)),
            ),
            ("aiosqlite alone", run(through_aiosqlite(path, known, count))),
            ("sqlite3 (floor)", floor),
        ]
    print(f"SQLite, {count} statements of each kind, CPU of this process per statement")
    report(rows)
    return dict(rows)


def run_postgres(url: str, count: int) -> Figures | None:
    import psycopg

    base = url.replace("postgresql+psycopg://", "postgresql://", 1)
    name = f"bench_sql_{uuid.uuid4().hex[:8]}"
    try:
        with psycopg.connect(base, autocommit=True, connect_timeout=3) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        print(f"\nPostgreSQL skipped: {url!r} is unreachable ({exc})")
        return None
    dsn = base.rsplit("/", 1)[0] + f"/{name}"
    try:
        known = prepare(dsn.replace("postgresql://", "postgresql+psycopg://", 1))
        async_url = dsn.replace("postgresql://", "postgresql+psycopg://", 1)
        with psycopg.connect(dsn) as blocking:
            floor = through_blocking_driver(blocking, "%s", known, count)
        rows = [
            ("sqlalchemy async", run(through_sqlalchemy(async_url, known, count))),
            ("psycopg async alone", run(through_psycopg_async(dsn, known, count))),
            ("psycopg sync (floor)", floor),
        ]
    finally:
        with psycopg.connect(base, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print(f"\nPostgreSQL, {count} statements of each kind, CPU of this process per statement")
    report(rows)
    return dict(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--statements", type=int, default=3000, help="of each kind, per layer")
    parser.add_argument("--sqlite-only", action="store_true", help="skip PostgreSQL")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    figures: dict[str, Figures] = {"sqlite": run_sqlite(args.statements)}
    if not args.sqlite_only:
        url = os.environ.get("TEST_DATABASE_URL") or DEFAULT_POSTGRES
        postgres = run_postgres(url, args.statements)
        if postgres is not None:
            figures["postgres"] = postgres
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
