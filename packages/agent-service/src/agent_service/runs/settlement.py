"""A run's tokens settled: the quota reservation it held given back when its task is done, and
the text it streamed without a usage report counted, estimated from the text.

A run cut short (cancelled, failed, interrupted) mid-answer never gets that answer's usage report
from the provider: `ending` calls `count_streamed` when it closes such a run, and the text stored
since the run's last counted step is charged at `CHARS_PER_TOKEN` characters a token.
"""

from __future__ import annotations

import logging
import math
import uuid
from collections.abc import Coroutine
from typing import Any

import anyio
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from agent_service.quotas.service import Reservation
from agent_service.runs import hooks
from agent_service.runs import service as runs
from agent_service.runs.host import RunHost

logger = logging.getLogger("agent_service.runs")

CHARS_PER_TOKEN = 4  # English text's usual ratio
# Events after which the tokens of what was streamed before are in a counted usage report.
COUNTED_EVENTS = ("tool.result", "run.requires_action")


def spawn(
    host: RunHost,
    run_id: uuid.UUID,
    work: Coroutine[Any, Any, None],
    reservation: Reservation | None,
) -> None:
    """Drive the run in a task of its own, which gives its reservation back when it is done (it
    ended, or paused for approval: a resume reserves again)."""
    host.spawn(run_id, work if reservation is None else _releasing(host, run_id, work, reservation))


async def _releasing(
    host: RunHost, run_id: uuid.UUID, work: Coroutine[Any, Any, None], reservation: Reservation
) -> None:
    try:
        await work
    finally:
        await _settle(host, run_id, None, reservation=reservation)


async def count_streamed(host: RunHost, run_id: uuid.UUID, user_id: uuid.UUID) -> None:
    """Charge what a run that ended without an answer streamed since its last counted step."""
    await _settle(host, run_id, user_id, reservation=None)


async def _settle(
    host: RunHost,
    run_id: uuid.UUID,
    user_id: uuid.UUID | None,
    *,
    reservation: Reservation | None,
) -> None:
    """In a transaction of its own, shielded (a cancelled request, a stopping process); a
    database error is logged: the run's end never depends on its count."""
    with anyio.CancelScope(shield=True):
        try:
            async with host.sessionmaker() as session:
                streamed = 0 if user_id is None else await streamed_tokens(session, run_id)
                await hooks.settle(session, user_id, reservation, streamed_tokens=streamed)
                await session.commit()
        except SQLAlchemyError:
            logger.warning("could not settle the tokens of run %s", run_id, exc_info=True)


async def streamed_tokens(session: AsyncSession, run_id: uuid.UUID) -> int:
    """Tokens of the text the run stored since its last counted step, estimated from the text."""
    chars = 0
    for event in await runs.read_events(session, run_id, 0):
        if event.event in COUNTED_EVENTS:
            chars = 0
        elif event.event == "message.delta":
            chars += len(str(event.data.get("delta", "")))
    return math.ceil(chars / CHARS_PER_TOKEN)
