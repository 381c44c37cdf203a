"""Leases: the heartbeat that renews this process's runs, and the sweep that ends the runs whose
lease ran out (their process died, or cannot write their end).

The heartbeat proves progress, not only that the process lives: a run whose writes cannot commit
(`RunHost.stalled`) is left out of it, so its lease runs out and any replica sweeps it, this one
included once the database is back. After a heartbeat fails, no replica sweeps for a whole lease:
the leases that ran out then are the ones an outage kept every replica from renewing, and their
owners renew them at their next beat.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from agent_service.db import utcnow
from agent_service.runs import driving, ending, takeover
from agent_service.runs.host import RunHost
from agent_service.runs.models import Run

logger = logging.getLogger("agent_service.runs")

LEASED_STATUSES = ("queued", "running")


async def beat_forever(host: RunHost) -> None:
    while True:
        await asyncio.sleep(host.settings.run_heartbeat_s)
        try:
            await beat(host)
            await sweep(host, at_startup=False)
        except Exception:  # the heartbeat outlives any failure: the next one tries again
            host.beat_failed_at = time.monotonic()
            logger.warning("run heartbeat failed", exc_info=True)


async def beat(host: RunHost) -> None:
    """Renew this process's lease on its runs that make progress; pick up cancel requests
    NOTIFY may have missed."""
    async with host.sessionmaker() as session:
        mine = [Run.owner == host.owner, Run.status.in_(LEASED_STATUSES)]
        if host.stalled:
            mine.append(Run.id.not_in(host.stalled))
        # rows locked now are being written by their own transaction (a claim, a step, which
        # renew the lease themselves, or an end): skipped, not waited for. Waiting deadlocked
        # with a claim waiting on the unique index for this very update, on PostgreSQL.
        renewed = select(Run.id).where(*mine).with_for_update(skip_locked=True)
        await session.execute(
            update(Run)
            .where(Run.id.in_(renewed))
            .values(heartbeat_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        result = await session.execute(
            select(Run.id).where(Run.owner == host.owner, Run.cancel_requested.is_(True))
        )
        await session.commit()
    for run_id in result.scalars():
        host.cancel_requested(str(run_id))


def sweeping_allowed(host: RunHost) -> bool:
    """Not within a lease of this process's last failed heartbeat (see the module's note)."""
    failed_at = host.beat_failed_at
    return failed_at is None or time.monotonic() - failed_at >= host.settings.run_lease_s


async def sweep(host: RunHost, *, at_startup: bool) -> int:
    """Take over or end the runs whose lease ran out: those whose heartbeat is older than
    `run_lease_s`, whoever owns them, and at start-up on SQLite every leased run of an earlier
    process (one process owns the file). How many it found."""
    if not sweeping_allowed(host):
        return 0
    async with host.sessionmaker() as session:
        query = select(Run).where(Run.status.in_(LEASED_STATUSES))
        if at_startup and not host.postgres:
            query = query.where(Run.owner.is_distinct_from(host.owner))
        else:
            cutoff = utcnow() - timedelta(seconds=host.settings.run_lease_s)
            query = query.where(Run.heartbeat_at < cutoff)
        dead = (await session.execute(query)).scalars().all()
        for run in dead:
            await _sweep_one(host, session, run)
    return len(dead)


async def _sweep_one(host: RunHost, session: AsyncSession, run: Run) -> None:
    """Continue the run here when that is safe (`takeover`), else end it:
    `cancelled` if a cancel was asked for, `interrupted` otherwise, its history repaired."""
    host.stalled.discard(run.id)
    host.refused.discard(run.id)
    if run.cancel_requested:
        await ending.end_idle(host, session, run, "cancelled", unrenewed=True)
        return
    driven_here = run.id in host.tasks  # stuck in a write: not driven twice
    room = len(host.tasks) < host.settings.max_active_turns
    if not driven_here and room and await takeover.take(host, session, run):
        work = driving.drive(host, run.id, run.conversation_id, taking_over=run.status == "running")
        host.spawn(run.id, work)
        return
    await ending.end_idle(host, session, run, "interrupted", unrenewed=True)
