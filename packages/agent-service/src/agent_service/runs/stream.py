"""A run's events as server-sent events with `id: <seq>`, for the chat routes and /events.

A follower that loses the database (a restart, a cut, a lock) while the run goes on reconnects
and reads the rows again after the last event it sent, with a growing pause (0.2 s doubling up to
2 s), for up to `RUN_FOLLOW_PATIENCE_S` (starting over at each read that succeeds); the client
sees a pause, not an `error`. Past that, it gets
`error database_busy` and can resume with Last-Event-ID.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncGenerator

import anyio
from sqlalchemy.exc import SQLAlchemyError
from sse_starlette import EventSourceResponse, ServerSentEvent

from agent_service.errors import database_unavailable
from agent_service.runs import service
from agent_service.runs.executor import RunExecutor
from agent_service.runs.models import Run
from agent_service.sse import sse_response, stored_event

logger = logging.getLogger("agent_service.runs")

FIRST_PAUSE_S, LONGEST_PAUSE_S = 0.2, 2.0  # between a follower's reads while the database is away


def run_event_stream(
    executor: RunExecutor,
    run_id: uuid.UUID,
    *,
    after: int = 0,
    cancel_on_close: bool = False,
) -> EventSourceResponse:
    """Replay after `after`, then follow live until the run ends; `X-Run-Id` names the run."""
    events = _events(executor, run_id, after=after, cancel_on_close=cancel_on_close)
    return sse_response(
        events, heartbeat_s=executor.settings.sse_heartbeat_s, headers={"X-Run-Id": str(run_id)}
    )


async def _events(
    executor: RunExecutor, run_id: uuid.UUID, *, after: int, cancel_on_close: bool
) -> AsyncGenerator[ServerSentEvent, None]:
    ended = False
    last = after
    lost_at: float | None = None  # when the database went away (monotonic), while it is away
    pause_s = FIRST_PAUSE_S
    patience_s = executor.settings.run_follow_patience_s

    def answered() -> None:
        """A read went through: the patience starts over at the next loss."""
        nonlocal lost_at, pause_s
        if lost_at is not None:
            logger.info(
                "run %s: its follower reads the database again after %.1f s",
                run_id,
                time.monotonic() - lost_at,
            )
        lost_at, pause_s = None, FIRST_PAUSE_S

    try:
        while not ended:
            followed = service.follow_events(
                executor.sessionmaker,
                executor.notifier,
                run_id,
                after=last,
                poll_s=executor.settings.run_poll_s,
                on_read=answered,
            )
            try:
                async for row in followed:
                    last = row.seq
                    yield stored_event(row.seq, row.event, row.data)
                ended = True
            except SQLAlchemyError as exc:
                now = time.monotonic()
                lost_at = lost_at or now
                busy = database_unavailable(exc)
                if busy is None:
                    raise
                if now - lost_at > patience_s:
                    raise busy from exc
                logger.info("run %s: its follower lost the database; reading again", run_id)
                await asyncio.sleep(pause_s)
                pause_s = min(pause_s * 2, LONGEST_PAUSE_S)
            finally:
                await followed.aclose()
    finally:
        if cancel_on_close and not ended:  # the client went away and asked to stop the run then
            with anyio.CancelScope(shield=True):
                async with executor.sessionmaker() as session:
                    run = await session.get(Run, run_id)
                    if run is not None:
                        await executor.cancel(session, run)
