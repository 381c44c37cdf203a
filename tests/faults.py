"""Fault injection for tests: a TCP proxy in front of PostgreSQL, and other writers on a SQLite file.

`DatabaseProxy` sits between the service and PostgreSQL on a free loopback port, in a thread of its
own (its own event loop), so it keeps forwarding while a test blocks, and it serves an in-process
app and a `serve` process alike. A test turns the database's network bad and good again:

- `cut()`: every open connection is reset (RST) and new ones are refused, as when PostgreSQL
  restarts or its host goes away; `restore()` listens again on the same port.
- `blackhole()`: connections are accepted and bytes read, but nothing is forwarded either way, as
  a network partition looks to both ends (TCP keeps the bytes; `restore()` delivers them, in order).
- `slow(ms)`: every chunk is forwarded `ms` late, in both directions.

`SqliteContention` is what another process's writers look like to the service on embedded SQLite:
threads that take the file's write lock (`BEGIN IMMEDIATE`), hold it, let go and take it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sqlite3
import struct
import threading
import time
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy.engine import make_url

T = TypeVar("T")
CONTROL_TIMEOUT_S = 10.0
CHUNK = 65536


@dataclass(eq=False)
class _Link:
    """One client connection and its upstream connection, with the two pumps between them."""

    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter
    pumps: list[asyncio.Task[None]] = field(default_factory=list)

    def reset(self) -> None:
        """Both ends go at once: the client sees a reset, PostgreSQL a dropped connection."""
        for writer in (self.client, self.upstream):
            sock = writer.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
        for pump in self.pumps:
            pump.cancel()


class DatabaseProxy:
    """A TCP proxy to `upstream_host:upstream_port` on 127.0.0.1:`port`, run in its own thread.

    Use it as a context manager (or `start()`/`stop()`); `url(database_url)` is that URL with its
    host and port pointing here. The control methods are safe to call from any thread or loop and
    have taken effect when they return.
    """

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.port = 0
        self.accepted = 0  # connections accepted since start, for tests that count reconnects
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="db-proxy", daemon=True)
        self._server: asyncio.Server | None = None
        self._links: set[_Link] = set()
        self._handlers: set[asyncio.Task[Any]] = set()
        self._flowing: asyncio.Event | None = None
        self._delay_s = 0.0

    @classmethod
    def for_url(cls, database_url: str) -> DatabaseProxy:
        """A proxy to the server a SQLAlchemy URL names (5432 when the URL gives no port)."""
        parsed = make_url(database_url)
        return cls(parsed.host or "127.0.0.1", parsed.port or 5432)

    def url(self, database_url: str) -> str:
        """`database_url` (same driver, user, database) reached through this proxy."""
        parsed = make_url(database_url).set(host="127.0.0.1", port=self.port)
        return parsed.render_as_string(hide_password=False)

    # lifecycle

    def start(self) -> DatabaseProxy:
        self._thread.start()
        self._call(self._open())
        return self

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        self._call(self._close_all())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(CONTROL_TIMEOUT_S)
        self._loop.close()

    def __enter__(self) -> DatabaseProxy:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    # faults

    def cut(self) -> None:
        """Reset every connection and refuse new ones until `restore()`."""
        self._call(self._cut())

    def blackhole(self) -> None:
        """Accept connections, forward nothing (bytes wait, in order, until `restore()`)."""
        self._call(self._set(flowing=False, delay_s=self._delay_s))

    def slow(self, ms: float) -> None:
        """Forward every chunk `ms` milliseconds late, both ways."""
        self._call(self._set(flowing=True, delay_s=ms / 1000))

    def restore(self) -> None:
        """Listen (on the same port) and forward promptly again."""
        self._call(self._restore())

    @property
    def open_connections(self) -> int:
        return len(self._links)

    # inside the proxy's loop

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(CONTROL_TIMEOUT_S)

    async def _open(self) -> None:
        if self._flowing is None:
            self._flowing = asyncio.Event()
            self._flowing.set()
        self._server = await asyncio.start_server(
            self._accept, "127.0.0.1", self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def _set(self, *, flowing: bool, delay_s: float) -> None:
        assert self._flowing is not None
        self._delay_s = delay_s
        if flowing:
            self._flowing.set()
        else:
            self._flowing.clear()

    async def _cut(self) -> None:
        if self._server is not None:
            self._server.close()  # new connections: ECONNREFUSED (accepted ones are ours to end)
            self._server = None
        for link in list(self._links):
            link.reset()
        self._links.clear()

    async def _restore(self) -> None:
        await self._set(flowing=True, delay_s=0.0)
        if self._server is None:
            await self._open()

    async def _close_all(self) -> None:
        await self._cut()
        assert self._flowing is not None
        self._flowing.set()  # pumps held by a blackhole end with their links
        await asyncio.gather(*self._handlers, return_exceptions=True)

    async def _accept(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        self.accepted += 1
        handler = asyncio.current_task()
        assert handler is not None
        self._handlers.add(handler)
        handler.add_done_callback(self._handlers.discard)
        try:
            upstream_r, upstream_w = await asyncio.open_connection(*self.upstream)
        except OSError:
            client_w.transport.abort()
            return
        link = _Link(client_w, upstream_w)
        self._links.add(link)
        link.pumps = [
            asyncio.create_task(self._pump(client_r, upstream_w)),
            asyncio.create_task(self._pump(upstream_r, client_w)),
        ]
        await asyncio.gather(*link.pumps, return_exceptions=True)
        self._links.discard(link)
        for writer in (client_w, upstream_w):
            writer.transport.abort()

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Forward one direction; a held chunk waits for the flow, so order is always kept."""
        assert self._flowing is not None
        with contextlib.suppress(OSError, ConnectionError):
            while data := await reader.read(CHUNK):
                await self._flowing.wait()
                if self._delay_s:
                    await asyncio.sleep(self._delay_s)
                writer.write(data)
                await writer.drain()
        # one side closed: let the other side see it too
        with contextlib.suppress(OSError, RuntimeError):
            writer.write_eof()


class SqliteContention:
    """`writers` threads that each take the SQLite file's write lock, hold it `hold_ms`, release it,
    wait `gap_ms` and take it again, until `stop()`. `holds` counts the locks taken (a test checks
    the contention really happened)."""

    def __init__(self, path: str, *, writers: int = 8, hold_ms: float = 20, gap_ms: float = 1):
        self.path = path
        self.hold_s = hold_ms / 1000
        self.gap_s = gap_ms / 1000
        self.holds = 0
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._write, name=f"sqlite-writer-{i}", daemon=True)
            for i in range(writers)
        ]

    def _write(self) -> None:
        connection = sqlite3.connect(self.path, isolation_level=None, timeout=30)
        try:
            while not self._stopping.is_set():
                try:
                    connection.execute("BEGIN IMMEDIATE")
                except sqlite3.OperationalError:  # gave up waiting on the other writers: again
                    continue
                with self._lock:
                    self.holds += 1
                self._stopping.wait(self.hold_s)
                connection.execute("ROLLBACK")
                self._stopping.wait(self.gap_s)
        finally:
            connection.close()

    def start(self) -> SqliteContention:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        for thread in self._threads:
            thread.join(CONTROL_TIMEOUT_S)

    def __enter__(self) -> SqliteContention:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


@contextlib.contextmanager
def sqlite_write_lock(path: str) -> Iterator[None]:
    """Another process's writer holding SQLite's write lock for the whole block."""
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        holder.execute("ROLLBACK")
        holder.close()


class SqliteLockHolder:
    """Another process's writer holding SQLite's write lock from `take()` until `release()`, which
    may come from any thread (e.g. a log handler that sees the service give up)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._connection: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def take(self) -> None:
        with self._lock:
            if self._connection is None:
                connection = sqlite3.connect(
                    self.path, isolation_level=None, check_same_thread=False
                )
                connection.execute("BEGIN IMMEDIATE")
                self._connection = connection

    def release(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.execute("ROLLBACK")
                self._connection.close()
                self._connection = None

    @property
    def held(self) -> bool:
        return self._connection is not None


def sqlite_path(database_url: str) -> str:
    """The file of a `sqlite+aiosqlite:///...` URL."""
    database = make_url(database_url).database
    assert database and database != ":memory:", f"not a SQLite file: {database_url!r}"
    return database


def wait_until(condition: Any, *, timeout_s: float = 10.0, what: str = "condition") -> None:
    """Poll `condition()` (a blocking check) until true; fail naming `what` after the deadline."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout_s} s")
        time.sleep(0.01)
