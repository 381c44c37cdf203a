"""A run's events as server-sent events with `id: <seq>`, for the chat routes and /events."""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator

import anyio
from sse_starlette import EventSourceResponse, ServerSentEvent

from agent_service.runs import service
from agent_service.runs.executor import RunExecutor
from agent_service.runs.models import Run
from agent_service.sse import sse_response, stored_event


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
    followed = service.follow_events(
        executor.sessionmaker,
        executor.notifier,
        run_id,
        after=after,
        poll_s=executor.settings.run_poll_s,
    )
    ended = False
    try:
        async for row in followed:
            yield stored_event(row.seq, row.event, row.data)
        ended = True
    finally:
        await followed.aclose()
        if cancel_on_close and not ended:  # the client went away and asked to stop the run then
            with anyio.CancelScope(shield=True):
                async with executor.sessionmaker() as session:
                    run = await session.get(Run, run_id)
                    if run is not None:
                        await executor.cancel(session, run)
