"""Engine, session factory and the declarative base: the one way to reach the database."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import errors as psycopg_errors
from sqlalchemy import DateTime, MetaData, event
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC timestamps on every backend (SQLite hands back naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class IdMixin:
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


def parse_id(value: str) -> uuid.UUID | None:
    """An id from a URL, or None when malformed (callers answer 404, never 422)."""
    try:
        return uuid.UUID(value)
    except (ValueError, AttributeError, TypeError):
        return None


def _sqlite_pragmas(busy_timeout_ms: int) -> Callable[[Any, Any], None]:
    def set_pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    return set_pragmas


class AnsweringConnection(psycopg.AsyncConnection[Any]):
    """A psycopg connection that gives up on a database that stays silent.

    libpq waits forever for an answer that a partitioned network or a hung server never sends: a
    request would hang, holding its pooled connection, until the pool ran dry. Here a statement
    with no answer within `answer_timeout_s` breaks the connection (SQLAlchemy then discards it)
    and raises `OperationalError`, which the app answers with 503 `database_busy`.
    """

    answer_timeout_s: float = 30.0

    # psycopg's own signature: its deadline raises without cancelling (a cancellation would try
    # to cancel the query on the server, through the same dead network, for 10 s more)
    async def wait(
        self,
        gen: Any,
        interval: float = 0.1,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> Any:
        try:
            return await super().wait(gen, interval, timeout or self.answer_timeout_s)
        except psycopg_errors._WaitTimeout as exc:
            self.pgconn.finish()  # mid-protocol: unusable, and `broken` for SQLAlchemy
            raise psycopg.OperationalError(
                f"the database did not answer within {self.answer_timeout_s} s"
            ) from exc


def _answering_connect(answer_timeout_s: float) -> Callable[..., Any]:
    """`connect` of an `AnsweringConnection` class with this timeout (one class per engine)."""
    connection_class: type[AnsweringConnection] = type(
        "AnsweringConnection", (AnsweringConnection,), {"answer_timeout_s": answer_timeout_s}
    )
    return connection_class.connect


def create_engine(
    url: str,
    *,
    sqlite_busy_timeout_ms: int = 10_000,
    pool_size: int = 20,
    max_overflow: int = 20,
    pool_timeout_s: float = 10.0,
    answer_timeout_s: float = 30.0,
) -> AsyncEngine:
    """An async engine; SQLite gets WAL, foreign keys and a busy timeout on every connection.

    Turns hold a connection only between model calls, so checkouts are many and short: a pool big
    enough that overflow connections (opened and closed each time) are rare, and a wait for one
    bounded (then 503 `database_busy`), the same on both databases. An in-memory SQLite database
    is one connection (SQLAlchemy's StaticPool): it takes no pool settings. A PostgreSQL server
    that does not answer a connection or a statement within `answer_timeout_s` is given up on.
    """
    pool = {"pool_size": pool_size, "max_overflow": max_overflow, "pool_timeout": pool_timeout_s}
    if url.startswith("sqlite"):
        in_memory = make_url(url).database in (None, "", ":memory:")
        engine = create_async_engine(
            url,
            connect_args={"timeout": sqlite_busy_timeout_ms / 1000},
            **({} if in_memory else pool),
        )
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas(sqlite_busy_timeout_ms))
        return engine
    connect_args = {
        "async_creator_fn": _answering_connect(answer_timeout_s),
        "connect_timeout": max(2, round(answer_timeout_s)),  # libpq: whole seconds, 2 at least
    }
    return create_async_engine(url, pool_pre_ping=True, connect_args=connect_args, **pool)


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
