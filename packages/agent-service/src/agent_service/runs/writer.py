"""The event writer of one run: text deltas coalesced, events written in batches, in order.

A token is not worth a transaction: deltas are buffered and merged, and the buffer is written
every `interval_s` (or sooner when it grows past `max_pending`), so a follower is never more than
one interval behind the model. Tool events go out with the step that records them, in the same
transaction. One lock orders every write, so rows commit in `seq` order and a follower reading
`seq > last` never skips one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import anyio
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent_service.runs.models import RunEvent
from agent_service.runs.notifier import CommittedEvent, RunNotifier, run_key

logger = logging.getLogger("agent_service.runs.writer")


@dataclass
class PendingEvent:
    event: str
    data: dict[str, Any]


class EventWriter:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        notifier: RunNotifier,
        run_id: uuid.UUID,
        *,
        next_seq: int,
        interval_s: float = 0.1,
        max_pending: int = 64,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.notifier = notifier
        self.run_id = run_id
        self.next_seq = next_seq
        self.interval_s = interval_s
        self.max_pending = max_pending
        self.lock = asyncio.Lock()
        # True while a tool step's transaction is open on the run's session: a batch written on
        # another connection then could wait for that transaction's lock (SQLite), so it waits.
        self.in_step = False
        self._pending: list[PendingEvent] = []
        self._due = asyncio.Event()

    def add(self, event: str, data: dict[str, Any]) -> None:
        if event == "message.delta" and self._pending and self._pending[-1].event == event:
            self._pending[-1].data["delta"] += data["delta"]
        else:
            self._pending.append(PendingEvent(event, data))
        if len(self._pending) >= self.max_pending:
            self._due.set()

    def take(self) -> list[RunEvent]:
        """The buffered events as rows with their sequence numbers (call it holding `lock`)."""
        rows = []
        for pending in self._pending:
            rows.append(
                RunEvent(
                    run_id=self.run_id, seq=self.next_seq, event=pending.event, data=pending.data
                )
            )
            self.next_seq += 1
        self._pending = []
        return rows

    async def flush(self) -> None:
        """Write the buffer in its own short transaction, unless a tool step is open."""
        async with self.lock:
            if self.in_step or not self._pending:
                return
            pending, first_seq = list(self._pending), self.next_seq
            rows = self.take()
            try:
                async with self.sessionmaker() as session:
                    session.add_all(rows)
                    await self.notifier.announce(session, run_key(self.run_id))
                    await session.commit()
            except SQLAlchemyError:
                logger.warning(
                    "could not write run events; retrying with the next batch", exc_info=True
                )
                self._pending, self.next_seq = pending + self._pending, first_seq
                return
            self.published(rows)
        self.notifier.wake(run_key(self.run_id))

    def published(self, rows: Sequence[RunEvent]) -> None:
        """Rows just committed (holding `lock`, so in order), for this process's followers."""
        self.notifier.publish(self.run_id, (CommittedEvent(r.seq, r.event, r.data) for r in rows))

    @contextlib.asynccontextmanager
    async def flushing(self) -> AsyncIterator[None]:
        """Write batches in the background while the block runs."""
        stopping = asyncio.Event()
        task = asyncio.create_task(
            self._flush_periodically(stopping), name=f"run-events-{self.run_id}"
        )
        try:
            yield
        finally:
            with anyio.CancelScope(
                shield=True
            ):  # the batch in flight ends; nothing is cut half-way
                stopping.set()
                self._due.set()
                await task

    async def _flush_periodically(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.interval_s):
                    await self._due.wait()
            self._due.clear()
            if not stopping.is_set():
                await self.flush()
