"""The engine: pool settings for a SQLite file and PostgreSQL, none for an in-memory SQLite."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from agent_service.db import create_engine


@pytest.mark.parametrize("url", ["sqlite+aiosqlite://", "sqlite+aiosqlite:///:memory:"])
async def test_an_in_memory_sqlite_database_opens(url: str) -> None:
    engine = create_engine(url, pool_size=3)
    try:
        async with engine.connect() as conn:
            assert await conn.scalar(text("SELECT 1")) == 1
    finally:
        await engine.dispose()


async def test_a_sqlite_file_gets_the_pool_settings(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"
    engine = create_engine(url, pool_size=3, pool_timeout_s=0.5)
    try:
        pool = engine.pool
        assert (pool.size(), pool.timeout()) == (3, 0.5)  # type: ignore[attr-defined]
    finally:
        await engine.dispose()
