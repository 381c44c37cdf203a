"""Wake-ups in one process (watch, wake, a cancel for the run's owner, forget), which notifier a
database URL gets, and a PostgreSQL listener whose database cannot be reached: the startup goes on
at the first failure and the listener keeps trying, until stopped."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from agent_service.runs.notifier import (
    CommittedEvent,
    PostgresRunNotifier,
    RunNotifier,
    build_notifier,
    cancel_key,
    conversation_key,
    run_key,
)


def test_keys_name_what_they_wake() -> None:
    run = uuid.UUID(int=7)
    assert run_key(run) == f"run:{run}"
    assert conversation_key(run) == f"conversation:{run}"
    assert cancel_key(run) == f"cancel:{run}"


async def test_a_wake_sets_the_watchers_of_its_key_only() -> None:
    notifier = RunNotifier()
    with (
        notifier.watch("run:a") as a,
        notifier.watch("run:a") as a_too,
        notifier.watch("run:b") as b,
    ):
        notifier.wake("run:a", "run:c")
        assert a.is_set() and a_too.is_set()
        assert not b.is_set()
    with notifier.watch("run:a") as again:  # a new watch waits for the next wake
        assert not again.is_set()
        notifier.wake("run:a")
        assert again.is_set()


async def test_a_watch_that_ended_leaves_nothing_behind() -> None:
    notifier = RunNotifier()
    with notifier.watch("run:a"), notifier.watch("run:a"):
        pass
    with notifier.watch("run:b") as b:
        pass
    notifier.wake("run:a", "run:b")
    assert not b.is_set()  # woken after its watch ended: nobody listens
    assert notifier._waiters == {}  # one entry per run ever watched would grow without end


async def test_a_cancel_wake_tells_the_owner_and_other_wakes_do_not() -> None:
    notifier = RunNotifier()
    notifier.wake("cancel:nobody-listens")  # no owner callback: nothing to tell
    told: list[str] = []
    notifier.on_cancel = told.append
    run = uuid.uuid4()
    with notifier.watch(cancel_key(run)) as cancel_watch:
        notifier.wake(run_key(run), conversation_key(run))
        assert told == []
        notifier.wake(cancel_key(run))
    assert told == [str(run)]
    assert cancel_watch.is_set()  # a waiter on the cancel key is woken too


async def test_has_nothing_after_only_when_memory_holds_everything_up_to_there() -> None:
    notifier, run = RunNotifier(), uuid.uuid4()
    assert not notifier.has_nothing_after(run, 0)  # not driven here: the rows may hold more
    notifier.publish(run, [])
    assert not notifier.has_nothing_after(run, 0)  # nothing kept yet: the rows decide
    notifier.publish(run, [CommittedEvent(2, "message.delta", {"delta": "x"})])
    assert notifier.has_nothing_after(run, 2)
    assert notifier.has_nothing_after(run, 3)
    assert not notifier.has_nothing_after(run, 1)


async def test_forget_drops_the_memory_and_wakes_the_followers() -> None:
    notifier, run = RunNotifier(), uuid.uuid4()
    notifier.publish(run, [CommittedEvent(2, "message.delta", {"delta": "x"})])
    with notifier.watch(run_key(run)) as follower:
        notifier.forget(run)
        assert follower.is_set()  # to read the rows, which hold what memory may not
    assert not notifier.has_nothing_after(run, 2)
    assert notifier.recent(run, 1) == []


async def test_one_process_notifier_starts_stops_and_announces_nothing() -> None:
    notifier = build_notifier("sqlite+aiosqlite:///:memory:")
    assert type(notifier) is RunNotifier
    await notifier.start()
    engine = create_async_engine("sqlite+aiosqlite:///:memory:")
    try:
        async with async_sessionmaker(engine)() as session:
            await notifier.announce(session, run_key(uuid.uuid4()))
            await PostgresRunNotifier("postgresql://unused").announce(session)  # no keys: no SQL
    finally:
        await engine.dispose()
    await notifier.stop()


def test_postgresql_urls_get_a_listener_with_a_plain_dsn() -> None:
    notifier = build_notifier("postgresql+psycopg://app:secret@db.example:5433/agent")
    assert isinstance(notifier, PostgresRunNotifier)
    assert notifier.dsn == "postgresql://app:secret@db.example:5433/agent"
    assert notifier.reconnect_s == 1.0
    assert not notifier.listening.is_set()


class RefusingServer:
    """A TCP port that accepts each connection and closes it at once: a database that is not
    there (PostgreSQL's client fails its connect). Counts the connections it saw."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            connection.close()

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def refusing_server() -> Iterator[RefusingServer]:
    server = RefusingServer()
    try:
        yield server
    finally:
        server.close()


async def wait_for(check: object, what: str) -> None:
    deadline = time.monotonic() + 10
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"never {what}"
        await asyncio.sleep(0.01)


async def test_a_listener_that_cannot_connect_lets_the_startup_go_on_and_keeps_trying(
    refusing_server: RefusingServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="agent_service.runs.notifier")
    dsn = f"postgresql://nobody@127.0.0.1:{refusing_server.port}/none"
    dsn += "?sslmode=disable&gssencmode=disable"  # one connection per attempt
    notifier = PostgresRunNotifier(dsn, reconnect_s=0.01)

    await asyncio.wait_for(notifier.start(), timeout=30)

    try:
        # it returned at the first failure, not after its 5 s of trying every 10 ms
        assert 1 <= refusing_server.accepted <= 2
        assert not notifier.listening.is_set()
        await wait_for(lambda: refusing_server.accepted >= 3, "tried again")
        assert any("reconnecting" in r.getMessage() for r in caplog.records)
    finally:
        await asyncio.wait_for(notifier.stop(), timeout=5)  # the listener's task ends
