"""The event writers of the runs driven here: deltas coalesced, events written in batches, in order.

A token is not worth a transaction, and neither is one run's tenth of a second: each run's
`EventWriter` buffers its events (text deltas merged), and the process's one `EventBatcher` writes
the buffers of every run it drives in one transaction every `interval_s` (sooner when a buffer
grows past `max_pending`), so a follower is never more than one interval behind the model and a
hundred streams cost ten commits a second, not a thousand. Tool events go out with the step that
records them, in the same transaction. Each run's lock orders its writes, so its rows commit in
`seq` order and a follower reading `seq > last` never skips one.

A batch writes a run's events only while the run is still its writer's (its owner is the process
that made the writer): a replica back after a pause, whose run was taken over or ended meanwhile,
drops what its model still streams instead of writing it into another replica's run (on
PostgreSQL the run rows are locked for the batch, so a takeover waits for it and reads its rows).
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
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent_service.runs.models import Run, RunEvent
from agent_service.runs.notifier import CommittedEvent, RunNotifier, run_key

logger = logging.getLogger("agent_service.runs.writer")


@dataclass
class PendingEvent:
    event: str
    data: dict[str, Any]


class EventWriter:
    """One run's buffer of events and its next sequence number; made by `EventBatcher.writer`."""

    def __init__(
        self, batcher: EventBatcher, run_id: uuid.UUID, *, next_seq: int, owner: str | None
    ) -> None:
        self.batcher = batcher
        self.notifier = batcher.notifier
        self.run_id = run_id
        self.next_seq = next_seq
        self.owner = owner  # the run's owner while this writer's events are its own
        self.dropping = False  # the run is another's now: what it buffers is dropped
        self.lock = asyncio.Lock()
        # True while a tool step's transaction is open on the run's session: a batch written on
        # another connection then could wait for that transaction's lock (SQLite), so it waits.
        self.in_step = False
        self._pending: list[PendingEvent] = []

    def add(self, event: str, data: dict[str, Any]) -> None:
        if event == "message.delta" and self._pending and self._pending[-1].event == event:
            self._pending[-1].data["delta"] += data["delta"]
        else:
            self._pending.append(PendingEvent(event, data))
        if len(self._pending) >= self.batcher.max_pending:
            self.batcher.due.set()

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

    def checkpoint(self) -> tuple[list[PendingEvent], int]:
        """The buffer and next sequence number, for `rewind` if the write of `take()`'s rows
        fails (they are not reused: a rolled-back session expires them)."""
        return list(self._pending), self.next_seq

    def rewind(self, checkpoint: tuple[list[PendingEvent], int]) -> None:
        """Back to the checkpoint, with what was added since after it."""
        pending, self.next_seq = checkpoint
        self._pending = pending + self._pending

    def drop_uncommitted(self, seq: int) -> None:
        """Forget the buffer and go back to `seq` (call it holding `lock`): a step that could not
        commit, whose events no follower saw and whose messages were not stored."""
        self._pending = []
        self.next_seq = seq
        self.in_step = False

    def batchable(self) -> bool:
        """Something to write, no step open, and no write of its own under way."""
        return bool(self._pending) and not self.in_step and not self.lock.locked()

    async def flush(self) -> None:
        """Write this run's buffer now, in its own short transaction, unless a tool step is open
        (before a tool opens its transaction, the text so far goes first)."""
        async with self.lock:
            if self.in_step or not self._pending:
                return
            if not await self.batcher.write([self]):
                return
        self.notifier.wake(run_key(self.run_id))

    def published(self, rows: Sequence[RunEvent]) -> None:
        """Rows just committed (holding `lock`, so in order), for this process's followers."""
        self.notifier.publish(self.run_id, (CommittedEvent(r.seq, r.event, r.data) for r in rows))

    @contextlib.asynccontextmanager
    async def flushing(self) -> AsyncIterator[None]:
        """The batcher writes this run's buffer while the block runs; what is left at the end is
        the caller's to write with the run's last step (its answer, or the end)."""
        self.batcher.register(self)
        try:
            yield
        finally:
            self.batcher.unregister(self)


class EventBatcher:
    """Writes the buffered events of every run this process drives, one transaction a batch.

    Its task runs while some run is registered; a batch takes each ready run's lock (free, or the
    run is skipped until the next batch), so a run's own writes and the batch never interleave.
    """

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        notifier: RunNotifier,
        *,
        interval_s: float = 0.1,
        max_pending: int = 64,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.notifier = notifier
        self.interval_s = interval_s
        self.max_pending = max_pending
        self.due = asyncio.Event()
        self._writers: dict[uuid.UUID, EventWriter] = {}
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    def writer(self, run_id: uuid.UUID, *, next_seq: int, owner: str | None) -> EventWriter:
        """`owner`: the process that drives the run (None: a run no process owns)."""
        return EventWriter(self, run_id, next_seq=next_seq, owner=owner)

    def register(self, writer: EventWriter) -> None:
        self._writers[writer.run_id] = writer
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._write_periodically(), name="run-events")

    def unregister(self, writer: EventWriter) -> None:
        self._writers.pop(writer.run_id, None)
        if not self._writers:
            self.due.set()  # the task sees no run left and ends now, not an interval later

    async def aclose(self) -> None:
        """Write what is ready one last time and end the task, even if a run that would not stop
        is still registered (the shutdown does not wait for it). The last write is not cut short:
        cancelled mid-statement, an aiosqlite connection can hang the loop's close; its wait is
        bounded by the database (SQLite's busy_timeout; on PostgreSQL nothing else writes these
        rows, so no lock holds the insert)."""
        self._closing = True
        if self._task is not None:
            self.due.set()
            with anyio.CancelScope(shield=True):
                await self._task

    async def _write_periodically(self) -> None:
        while self._writers and not self._closing:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.interval_s):
                    await self.due.wait()
            self.due.clear()
            await self._write_ready()

    async def _write_ready(self) -> None:
        ready = [w for w in self._writers.values() if w.batchable()]
        if not ready:
            return
        for writer in ready:
            await writer.lock.acquire()  # free: taken at once
        try:
            written = await self.write(ready)
        finally:
            for writer in ready:
                writer.lock.release()
        if written:
            self.notifier.wake(*(run_key(w.run_id) for w in ready))

    async def write(self, writers: Sequence[EventWriter]) -> bool:
        """Write the writers' buffers in one transaction (the caller holds their locks); on a
        failure the events go back to their buffers, to go with the next batch. The events of a
        run that is no longer its writer's are dropped."""
        checkpoints = [(w, w.checkpoint()) for w in writers]
        taken = [(w, w.take()) for w in writers]
        try:
            async with self.sessionmaker() as session:
                kept = await _still_theirs(session, writers)
                for writer, rows in taken:
                    if writer in kept:
                        session.add_all(rows)
                await self.notifier.announce(session, *(run_key(w.run_id) for w in kept))
                await session.commit()
        except SQLAlchemyError:
            logger.warning(
                "could not write run events; retrying with the next batch", exc_info=True
            )
            for writer, checkpoint in checkpoints:
                writer.rewind(checkpoint)
            return False
        for writer, rows in taken:
            if writer in kept:
                writer.published(rows)
            elif not writer.dropping:
                writer.dropping = True
                logger.warning(
                    "run %s was taken over or ended elsewhere; its events from here are dropped",
                    writer.run_id,
                )
        return True


async def _still_theirs(session: AsyncSession, writers: Sequence[EventWriter]) -> list[EventWriter]:
    """The writers whose run is still owned as when they were made, their rows locked (in id
    order) until the batch commits."""
    found = await session.execute(
        select(Run.id, Run.owner)
        .where(Run.id.in_([w.run_id for w in writers]))
        .order_by(Run.id)
        .with_for_update()
    )
    owners = {run_id: owner for run_id, owner in found}
    return [w for w in writers if w.run_id in owners and owners[w.run_id] == w.owner]
