"""Engine, session factory and the declarative base: the one way to reach the database."""

from __future__ import annotations

import asyncio
import functools
import sqlite3
import uuid
import weakref
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import aiosqlite
import psycopg
from psycopg import errors as psycopg_errors
from sqlalchemy import DateTime, MetaData, event
from sqlalchemy.engine import Dialect, Engine, make_url
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


class SqliteWriter:
    """The one writer of a SQLite file in this process: a FIFO lock that a connection holds from
    its first write statement to the end of that transaction.

    SQLite lets one connection write at a time and makes the others poll for the lock (its busy
    handler sleeps up to 100 ms between tries, first come is not first served): at 50 turns at
    once some waited out the whole busy timeout while the lock was free most of that time, and
    got "database is locked". Waiting here is in line and wakes at once; the busy timeout is left
    for writers in other processes. Reads take no lock (WAL lets them run beside the writer).
    """

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self.waiting = 0  # connections in line for the turn to write, in every loop
        self._locks: dict[asyncio.AbstractEventLoop, asyncio.Lock] = {}

    def lock(self) -> asyncio.Lock:
        """This event loop's lock (an engine may serve more than one loop, e.g. the CLI's)."""
        loop = asyncio.get_running_loop()
        if loop not in self._locks:
            self._locks = {
                known: lock for known, lock in self._locks.items() if not known.is_closed()
            }
            self._locks[loop] = asyncio.Lock()
        return self._locks[loop]

    async def acquire(self) -> asyncio.Lock:
        lock = self.lock()
        self.waiting += 1
        try:
            async with asyncio.timeout(self.timeout_s):
                await lock.acquire()
        except TimeoutError:
            raise sqlite3.OperationalError(
                f"database is locked: no turn to write within {self.timeout_s} s"
            ) from None
        finally:
            self.waiting -= 1
        return lock


_WRITERS: weakref.WeakKeyDictionary[Engine, SqliteWriter] = weakref.WeakKeyDictionary()


def sqlite_writer(engine: AsyncEngine) -> SqliteWriter | None:
    """The engine's `SqliteWriter` (a SQLite file's engine made by `create_engine`), else None."""
    return _WRITERS.get(engine.sync_engine)


# Statements that take SQLite's write lock, or open a transaction that may later take it (a
# SAVEPOINT outside a transaction begins one); a read-only WITH only waits its turn.
_WRITES = frozenset(
    {"INSERT", "UPDATE", "DELETE", "REPLACE", "BEGIN", "SAVEPOINT", "WITH", "CREATE", "DROP",
     "ALTER", "VACUUM", "REINDEX"}
)  # fmt: skip


def _starts_write(fn: Callable[..., Any], args: tuple[Any, ...]) -> bool:
    if getattr(fn, "__name__", "") not in ("execute", "executemany", "executescript"):
        return False
    sql = args[0] if args and isinstance(args[0], str) else ""
    words = sql.lstrip(" \t\r\n(").split(None, 1)
    return bool(words) and words[0].upper() in _WRITES


class OneWriterConnection(aiosqlite.Connection):
    """An aiosqlite connection that writes only holding its process's `SqliteWriter` lock.

    Every statement, commit and rollback goes through `_execute`: the first write statement
    waits for the lock, and the lock goes back once the driver says no transaction is open (after
    the commit, the rollback, or a statement that failed), or when the connection stops.
    """

    def __init__(self, connector: Callable[[], sqlite3.Connection], writer: SqliteWriter) -> None:
        super().__init__(connector, iter_chunk_size=64)
        self._writer = writer
        self._held: asyncio.Lock | None = None

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if self._held is None and _starts_write(fn, args):
            self._held = await self._writer.acquire()
        try:
            return await super()._execute(fn, *args, **kwargs)  # type: ignore[no-untyped-call]
        finally:
            if self._held is not None and not self._in_transaction():
                self._release()

    def _in_transaction(self) -> bool:
        return self._connection is not None and self._connection.in_transaction

    def _release(self) -> None:
        held, self._held = self._held, None
        if held is not None and held.locked():
            held.release()

    def stop(self) -> asyncio.Future[Any] | None:
        self._release()  # closed, stopped, or collected without a close: the lock goes back
        return super().stop()


def _one_writer_connect(writer: SqliteWriter) -> Callable[..., OneWriterConnection]:
    """aiosqlite's `connect`, making connections that share `writer` (one per engine)."""

    def connect(database: str, **kwargs: Any) -> OneWriterConnection:
        connection = OneWriterConnection(
            functools.partial(sqlite3.connect, database, **kwargs), writer
        )
        connection._thread.daemon = True  # as SQLAlchemy does: a stuck query never blocks exit
        return connection

    return connect


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
    """An async engine; SQLite gets WAL, foreign keys and a busy timeout on every connection, and
    on a file one writer at a time in this process (`SqliteWriter`).

    Turns hold a connection only between model calls, so checkouts are many and short: a pool big
    enough that overflow connections (opened and closed each time) are rare, and a wait for one
    bounded (then 503 `database_busy`), the same on both databases. An in-memory SQLite database
    is one connection (SQLAlchemy's StaticPool): it takes no pool settings. A PostgreSQL server
    that does not answer a connection or a statement within `answer_timeout_s` is given up on.
    """
    pool = {"pool_size": pool_size, "max_overflow": max_overflow, "pool_timeout": pool_timeout_s}
    if url.startswith("sqlite"):
        in_memory = make_url(url).database in (None, "", ":memory:")
        connect_args: dict[str, Any] = {"timeout": sqlite_busy_timeout_ms / 1000}
        if not in_memory:  # (in memory, one connection is all there is)
            writer = SqliteWriter(sqlite_busy_timeout_ms / 1000)
            connect_args["async_creator_fn"] = _one_writer_connect(writer)
        engine = create_async_engine(url, connect_args=connect_args, **({} if in_memory else pool))
        if not in_memory:
            _WRITERS[engine.sync_engine] = writer
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas(sqlite_busy_timeout_ms))
        return engine
    connect_args = {
        "async_creator_fn": _answering_connect(answer_timeout_s),
        "connect_timeout": max(2, round(answer_timeout_s)),  # libpq: whole seconds, 2 at least
    }
    return create_async_engine(url, pool_pre_ping=True, connect_args=connect_args, **pool)


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
