"""Test databases: a migrated SQLite file, or a uniquely named PostgreSQL database dropped afterwards."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import delete, event, func, select, text
from sqlalchemy.exc import DBAPIError
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


async def delete_all_rows(engine: AsyncEngine) -> None:
    """Leave the schema, drop the data: children first, so foreign keys never object.

    On PostgreSQL a row lock held elsewhere (a transaction left open) would make this wait
    forever; a lock timeout turns that into a failure naming what holds the lock.
    """
    postgres = engine.dialect.name == "postgresql"
    try:
        async with engine.begin() as conn:
            if postgres:
                await conn.execute(text("SET LOCAL lock_timeout = '15s'"))
            for table in reversed(Base.metadata.sorted_tables):
                await conn.execute(delete(table))
    except DBAPIError as exc:
        if not postgres:
            raise
        async with engine.connect() as conn:
            holders = (await conn.execute(text(OPEN_TRANSACTIONS))).all()
        raise AssertionError(f"rows could not be deleted ({exc.orig}); open: {holders}") from exc


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
