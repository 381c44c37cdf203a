"""Test databases: a migrated SQLite file, or a uniquely named PostgreSQL database dropped afterwards."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import delete, event, func, make_url, select
from sqlalchemy.ext.asyncio import AsyncEngine

from agent_service import migrations
from agent_service.jobs.models import Job, JobStatus
from agent_service.models import Base


def _sync_dsn(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


@contextmanager
def postgres_database(server_url: str) -> Iterator[str]:
    """A fresh database on the server named by `server_url`, dropped (forcefully) at exit."""
    name = f"agent_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_sync_dsn(server_url), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = server_url.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(_sync_dsn(server_url), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def migrated_database(tmp_dir: Path) -> Iterator[str]:
    """The URL of an empty, fully migrated database on the backend this run targets."""
    server_url = os.environ.get("TEST_DATABASE_URL")
    if server_url:
        server_url = server_url.replace("postgresql://", "postgresql+psycopg://", 1)
        with postgres_database(server_url) as url:
            migrations.upgrade(url)
            yield url
    else:
        url = f"sqlite+aiosqlite:///{tmp_dir / 'test.db'}"
        migrations.upgrade(url)
        yield url


@contextmanager
def statements_sent(engine: AsyncEngine) -> Iterator[list[tuple[str, Any]]]:
    """The SQL statements the engine sends while inside, with their parameters, in order."""
    sent: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        sent.append((statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


class RowEraser:
    """Leaves the schema and drops the data, children first so foreign keys never object, through
    one connection kept for the whole run: one script, one round trip.

    A new connection per test (the app's engine is disposed by then) and a DELETE per table sent
    one by one were a quarter of a short test's time; on PostgreSQL each connection is a forked
    backend. There, a row lock held elsewhere (a transaction left open) would make the script
    wait forever: a lock timeout turns that into a failure naming what holds the lock.
    """

    def __init__(self, url: str) -> None:
        self.postgres = url.startswith("postgresql")
        dialect = make_url(url).get_dialect()()
        tables = reversed(Base.metadata.sorted_tables)
        deletes = "".join(f"{delete(table).compile(dialect=dialect)};" for table in tables)
        self.connection: psycopg.Connection[Any] | sqlite3.Connection
        if self.postgres:
            self.connection = psycopg.connect(_sync_dsn(url), autocommit=True)
            self.script = f"BEGIN; SET LOCAL lock_timeout = '15s'; {deletes} COMMIT;"
        else:
            path = url.split(":///", 1)[1]
            self.connection = sqlite3.connect(path, timeout=15, isolation_level=None)
            self.connection.execute("PRAGMA foreign_keys = ON")
            self.script = f"BEGIN; {deletes} COMMIT;"

    def erase(self) -> None:
        """Every row gone, or an error with the transaction rolled back: the connection serves
        the rest of the run, so a failed script must not leave it holding a lock."""
        if isinstance(self.connection, sqlite3.Connection):
            try:
                self.connection.executescript(self.script)
            except sqlite3.Error:
                if self.connection.in_transaction:
                    self.connection.execute("ROLLBACK")
                raise
            return
        try:
            self.connection.execute(self.script)  # several statements: psycopg's simple query
        except psycopg.Error as exc:
            self.connection.execute("ROLLBACK")  # the script's transaction, failed and still open
            holders = self.connection.execute(OPEN_TRANSACTIONS).fetchall()
            raise AssertionError(f"rows could not be deleted ({exc}); open: {holders}") from exc

    def close(self) -> None:
        self.connection.close()


@asynccontextmanager
async def _installed(
    engine: AsyncEngine, install: list[str], remove: list[str]
) -> AsyncIterator[None]:
    """Runs the `install` statements, then the `remove` ones on the way out (a fault's triggers)."""
    async with engine.begin() as conn:
        for statement in install:
            await conn.exec_driver_sql(statement)
    try:
        yield
    finally:
        async with engine.begin() as conn:
            for statement in remove:
                await conn.exec_driver_sql(statement)


@asynccontextmanager
async def inserts_refused(
    engine: AsyncEngine, table: str, *, when: str = "TRUE", as_unique_violation: bool = False
) -> AsyncIterator[None]:
    """While inside, the database itself refuses to insert the rows of `table` for which `when`
    (SQL over NEW) holds, as a full disk or a constraint added by hand would: a trigger raising
    (SQLite's RAISE(ABORT), a PL/pgSQL exception). Leaving drops it: the fault goes away.

    `as_unique_violation`: refused as a unique index refuses a row (SQLSTATE 23505 on PostgreSQL;
    SQLite's RAISE(ABORT) is a constraint error either way), for the code that handles a lost race.
    """
    name = f"refuse_{table}"
    fault = f"injected fault: no {table} rows"
    if engine.dialect.name == "postgresql":
        errcode = " USING ERRCODE = 'unique_violation'" if as_unique_violation else ""
        install = [
            f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN RAISE EXCEPTION '{fault}'{errcode}; END $$",
            f"CREATE TRIGGER {name} BEFORE INSERT ON {table} FOR EACH ROW WHEN ({when}) "
            f"EXECUTE FUNCTION {name}()",
        ]
        remove = [f"DROP TRIGGER {name} ON {table}", f"DROP FUNCTION {name}()"]
    else:
        install = [
            f"CREATE TRIGGER {name} BEFORE INSERT ON {table} WHEN {when} "
            f"BEGIN SELECT RAISE(ABORT, '{fault}'); END"
        ]
        remove = [f"DROP TRIGGER {name}"]
    async with _installed(engine, install, remove):
        yield


@asynccontextmanager
async def updates_skipped(engine: AsyncEngine, table: str, *, when: str) -> AsyncIterator[None]:
    """While inside, an UPDATE of `table` whose new row matches `when` (SQL over NEW) changes
    nothing and reports no row, as when another process changed the row first and a conditional
    UPDATE lost the race (SQLite's RAISE(IGNORE), a PL/pgSQL BEFORE trigger returning NULL)."""
    name = "skip_" + table.strip('"') + "_updates"  # `table` may be quoted: "user" is reserved
    if engine.dialect.name == "postgresql":
        install = [
            f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RETURN NULL; END $$",
            f"CREATE TRIGGER {name} BEFORE UPDATE ON {table} FOR EACH ROW WHEN ({when}) "
            f"EXECUTE FUNCTION {name}()",
        ]
        remove = [f"DROP TRIGGER {name} ON {table}", f"DROP FUNCTION {name}()"]
    else:
        install = [
            f"CREATE TRIGGER {name} BEFORE UPDATE ON {table} WHEN {when} "
            "BEGIN SELECT RAISE(IGNORE); END"
        ]
        remove = [f"DROP TRIGGER {name}"]
    async with _installed(engine, install, remove):
        yield


async def jobs_settled(engine: AsyncEngine, *, within_s: float = 10.0) -> None:
    """Wait (bounded) until no job is queued or running: a test that uploads a document and ends
    leaves its processing job working. Stopped mid-transaction by the shutdown, a job's SQLite
    connection keeps its write lock until it is garbage-collected, and the rows cannot be deleted.
    A job that outlasts the wait (a test's deliberately stuck one) is cancelled by the shutdown."""
    deadline = time.monotonic() + within_s
    unfinished = select(func.count()).select_from(Job).where(Job.status.in_(UNFINISHED))
    while time.monotonic() < deadline:
        async with engine.connect() as conn:
            if not await conn.scalar(unfinished):
                return
        await asyncio.sleep(0.02)


UNFINISHED = (JobStatus.QUEUED, JobStatus.RUNNING)

OPEN_TRANSACTIONS = """
SELECT pid, state, now() - xact_start AS age, left(query, 200)
FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid() AND xact_start IS NOT NULL
"""
