"""Wake-ups for followers of a run, waiters on a conversation and a run's owner, on every replica.

The rows are the source of truth: a wake-up only says "read again". In one process (embedded
SQLite) `wake` sets the waiting followers' events directly; on PostgreSQL a transaction that
writes events also sends `pg_notify('agent_runs', key)`, delivered at its commit to every replica
listening, which wakes its own followers. A missed notification costs a follower at most one poll
interval, never an event.

The process that drives a run also keeps the events it just committed (`publish`), so its own
followers take them without a query (`recent`); a follower that finds a gap there, or nothing,
reads the rows as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

logger = logging.getLogger("agent_service.runs.notifier")

CHANNEL = "agent_runs"


def run_key(run_id: object) -> str:
    return f"run:{run_id}"


def conversation_key(conversation_id: object) -> str:
    return f"conversation:{conversation_id}"


def cancel_key(run_id: object) -> str:
    return f"cancel:{run_id}"


# Events kept per run for this process's followers: a follower further behind reads the rows.
RECENT_EVENTS = 256


@dataclass(frozen=True)
class CommittedEvent:
    """A run event as committed: what a follower yields, read from memory or from its row."""

    seq: int
    event: str
    data: dict[str, Any]


class RunNotifier:
    """In-process wake-ups; `PostgresRunNotifier` adds LISTEN/NOTIFY across replicas."""

    def __init__(self) -> None:
        self._waiters: dict[str, set[asyncio.Event]] = defaultdict(set)
        self._recent: dict[uuid.UUID, deque[CommittedEvent]] = {}
        # Called with a run id when another replica asks this one to cancel a run it owns.
        self.on_cancel: Callable[[str], None] | None = None

    @contextlib.contextmanager
    def watch(self, key: str) -> Iterator[asyncio.Event]:
        """An event set by the next `wake(key)`: watch first, then read rows, then wait."""
        event = asyncio.Event()
        self._waiters[key].add(event)
        try:
            yield event
        finally:
            self._waiters[key].discard(event)
            if not self._waiters[key]:
                del self._waiters[key]

    def wake(self, *keys: str) -> None:
        for key in keys:
            if key.startswith("cancel:") and self.on_cancel is not None:
                self.on_cancel(key.removeprefix("cancel:"))
            for event in self._waiters.get(key, ()):
                event.set()

    def publish(self, run_id: uuid.UUID, events: Iterable[CommittedEvent]) -> None:
        """Keep events just committed, in order, for `recent` (the caller wakes the followers)."""
        tail = self._recent.setdefault(run_id, deque(maxlen=RECENT_EVENTS))
        tail.extend(events)

    def recent(self, run_id: uuid.UUID, after: int) -> list[CommittedEvent]:
        """The run's kept events after `after`, if they follow it without a gap; else none."""
        tail = self._recent.get(run_id)
        if not tail or tail[-1].seq <= after or tail[0].seq > after + 1:
            return []
        return [e for e in tail if e.seq > after]

    def has_nothing_after(self, run_id: uuid.UUID, after: int) -> bool:
        """The run is driven here and everything it committed up to now is in memory, none of it
        after `after`: a wake-up that finds this (an echo of our own commit from PostgreSQL, or a
        wake for events already taken) has nothing to read in the rows either."""
        tail = self._recent.get(run_id)
        return tail is not None and len(tail) > 0 and tail[-1].seq <= after

    def forget(self, run_id: uuid.UUID) -> None:
        """The run is no longer driven here: its followers read the rows (woken to do so, since
        its last commits, such as the end of a failed run, may not have been published)."""
        self._recent.pop(run_id, None)
        self.wake(run_key(run_id))

    async def announce(self, session: AsyncSession, *keys: str) -> None:
        """Tell other replicas, at the commit of `session`'s transaction (no-op in one process)."""

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None


class PostgresRunNotifier(RunNotifier):
    """LISTEN on one dedicated connection per process; NOTIFY inside the writing transaction."""

    def __init__(self, dsn: str, *, reconnect_s: float = 1.0) -> None:
        super().__init__()
        self.dsn = dsn
        self.reconnect_s = reconnect_s
        self._task: asyncio.Task[None] | None = None
        self.listening = asyncio.Event()
        self._first_attempt = asyncio.Event()  # connected, or failed once: startup goes on

    async def announce(self, session: AsyncSession, *keys: str) -> None:
        """One statement for every key (a batch of events names many runs)."""
        if not keys:
            return
        await session.execute(
            text("SELECT pg_notify(:channel, key) FROM unnest(CAST(:keys AS text[])) AS key"),
            {"channel": CHANNEL, "keys": list(keys)},
        )

    async def start(self) -> None:
        """Returns once listening, or at the first failure (a database that is down does not hold
        the startup; /readyz says so and the loop keeps reconnecting), at most after 5 s."""
        self._task = asyncio.create_task(self._listen_forever(), name="run-notifier")
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5):
                await self._first_attempt.wait()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _listen_forever(self) -> None:
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self.dsn, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    self.listening.set()
                    self._first_attempt.set()
                    async for notification in conn.notifies():
                        self.wake(notification.payload)
            except (psycopg.Error, OSError):
                logger.warning(
                    "run notifications lost their connection; reconnecting", exc_info=True
                )
            self._first_attempt.set()
            self.listening.clear()
            await asyncio.sleep(self.reconnect_s)


def build_notifier(database_url: str) -> RunNotifier:
    """PostgreSQL: LISTEN/NOTIFY across replicas; anything else: in-process only."""
    if database_url.startswith("postgresql"):
        dsn = database_url.replace("postgresql+psycopg://", "postgresql://", 1)
        return PostgresRunNotifier(dsn)
    return RunNotifier()
