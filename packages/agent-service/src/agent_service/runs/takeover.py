"""Taking over a run whose process died (its lease ran out): it goes on here from its last
committed step when that is safe, and is ended `interrupted` (by the sweep) when it is not.

A step commits its messages, its tools' database effects and its events in one transaction, so
the rows say exactly where a run stood: what committed is kept and never done again, what did not
commit rolled back with its step. Going on means calling the model again on the committed
history. That is safe unless some text of the unfinished model call already reached the run's
events (a follower would see the answer start over), so a run whose events after its last step
hold a `message.delta` is not taken over. A tool acting outside this database (an MCP server,
GitHub) whose step did not commit may act again if the model asks again.

A process that stops gracefully (SIGTERM, a rolling deploy) hands its runs over the same way
(`hand_over`): a run it may leave is given a lease that has run out, so the next sweep of any
replica continues it, instead of it being ended `interrupted`.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

import anyio
from sqlalchemy import func, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from agent_service.db import utcnow
from agent_service.runs import lifecycle
from agent_service.runs.host import RunHost
from agent_service.runs.models import Run, RunEvent

logger = logging.getLogger("agent_service.runs")

# Events a committed step (or the run's start, or a resume) ends with.
STEP_EVENTS = ("run.created", "tool.result", "run.requires_action")


async def continuable(session: AsyncSession, run: Run) -> bool:
    """No text of the unfinished model call is in the run's events."""
    last_step = (
        select(func.max(RunEvent.seq))
        .where(RunEvent.run_id == run.id, RunEvent.event.in_(STEP_EVENTS))
        .scalar_subquery()
    )
    text_since = await session.scalar(
        select(RunEvent.seq)
        .where(
            RunEvent.run_id == run.id,
            RunEvent.event == "message.delta",
            RunEvent.seq > func.coalesce(last_step, 0),
        )
        .limit(1)
    )
    return text_since is None


async def take(host: RunHost, session: AsyncSession, run: Run) -> bool:
    """Take the run's lease from its dead owner, for this process to drive it; whether it did
    (not safe to go on, or another replica took it first)."""
    if run.status == "running" and not await continuable(session, run):
        return False
    still_dead = [Run.id == run.id, Run.status == run.status]
    still_dead.append(Run.owner.is_not_distinct_from(run.owner))
    # and not renewed since it was found (its owner came back): on both databases, and at a
    # SQLite start-up too, where the lease is not what found it
    still_dead.append(Run.heartbeat_at.is_not_distinct_from(run.heartbeat_at))
    taken = await session.execute(
        update(Run)
        .where(*still_dead)
        .values(owner=host.owner, heartbeat_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        await session.rollback()
        return False
    await session.commit()
    logger.warning(
        "run %s: its process (%s) stopped renewing its lease; continuing it here",
        run.id,
        run.owner,
    )
    return True


async def hand_over(host: RunHost, session: AsyncSession, run_id: uuid.UUID) -> bool:
    """This process is stopping: leave the run (still its own, queued or running) for another
    replica to continue, when that is safe (`continuable`); whether it did. Its lease is made to
    have run out: any replica's next sweep takes it over (on SQLite, the next process's start-up
    sweep). Events still buffered here are dropped: no follower saw them, and the model call is
    made again. A run that may not be left is ended `interrupted` by the caller (`ending.end`,
    which starts with a rollback), as before."""
    with anyio.CancelScope(shield=True):
        try:
            await session.rollback()  # what the driver's cancelled step left open goes first
            run = await session.get(Run, run_id, populate_existing=True)
            if (
                run is None
                or run.status not in ("queued", "running")
                or run.owner != host.owner
                or not await continuable(session, run)
            ):
                return False
            lapsed = utcnow() - timedelta(seconds=host.settings.run_lease_s + 1)
            mine = [Run.owner == host.owner]
            left = await lifecycle.hold(
                session, run, status=run.status, where=mine, heartbeat_at=lapsed
            )
            await session.commit()
        except SQLAlchemyError:
            logger.warning("run %s: could not hand it over; ending it", run_id, exc_info=True)
            return False
    if left:
        logger.info("run %s: this process is stopping; another replica continues it", run_id)
    return left
