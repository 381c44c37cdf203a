"""Test databases: a migrated SQLite file, or a uniquely named PostgreSQL database dropped afterwards."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine

from agent_service import migrations
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


async def delete_all_rows(engine: AsyncEngine) -> None:
    """Leave the schema, drop the data: children first, so foreign keys never object."""
    async with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            await conn.execute(delete(table))
