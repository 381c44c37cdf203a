"""The `idempotency_key` model states the table the migrations make: a key of 255 characters and a
SHA-256 hex digest fit the columns the database has, not only the ones the model names."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from fastapi import FastAPI
from sqlalchemy import Connection

from agent_service.db import Base
from agent_service.idempotency.models import IdempotencyKey

TABLE = IdempotencyKey.__tablename__


def _named(name: str | None, kind: str, parent_names: Any) -> bool:
    return kind != "table" or name == TABLE  # the database's tables


def _of_the_table(item: Any, name: str | None, kind: str, reflected: bool, other: Any) -> bool:
    return (item.name if kind == "table" else item.table.name) == TABLE  # and the model's


def _differences(connection: Connection) -> list[Any]:
    options = {"compare_type": True, "include_name": _named, "include_object": _of_the_table}
    return list(
        compare_metadata(MigrationContext.configure(connection, opts=options), Base.metadata)
    )


async def test_the_migrated_table_is_the_model(app: FastAPI) -> None:
    async with app.state.engine.connect() as connection:
        assert await connection.run_sync(_differences) == []
