"""Alembic environment: async engine from the URL the caller put in the config's attributes."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import Connection

from agent_service.db import create_engine
from agent_service.models import Base

target_metadata = Base.metadata

# What migrations create by hand and the models do not describe: SQLite's FTS5 table (and its
# shadow tables), PostgreSQL's stored tsvector and its index, procrastinate's schema. Autogenerate
# leaves them be.
UNMODELLED_TABLE_PREFIXES = ("document_chunk_fts", "procrastinate_")
UNMODELLED = {("index", "ix_document_chunk_search_vector"), ("column", "search_vector")}


def _include_object(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    if type_ == "table" and name and name.startswith(UNMODELLED_TABLE_PREFIXES):
        return False
    return (type_, name) not in UNMODELLED


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_object=_include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await engine.dispose()


def run_migrations_online() -> None:
    url = context.config.attributes.get("database_url") or context.config.get_main_option(
        "sqlalchemy.url"
    )
    if not url:
        raise RuntimeError("no database URL given to the migrations")
    asyncio.run(_run_async(url))


if context.is_offline_mode():
    raise RuntimeError("offline (SQL script) migrations are not supported; run `db upgrade`")
run_migrations_online()
