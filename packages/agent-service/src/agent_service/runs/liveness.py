"""Leases: the heartbeat that renews this process's runs, and the sweep that ends the runs of a
process that died."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError

from agent_service.db import utcnow
from agent_service.runs import ending
from agent_service.runs.host import RunHost
from agent_service.runs.models import Run

logger = logging.getLogger("agent_service.runs")


async def beat_forever(host: RunHost) -> None:
    while True:
        await asyncio.sleep(host.settings.run_heartbeat_s)
        try:
            await beat(host)
            await sweep(host, at_startup=False)
        except SQLAlchemyError:
            logger.warning("run heartbeat failed", exc_info=True)


async def beat(host: RunHost) -> None:
    """Renew this process's lease on its runs; pick up cancel requests NOTIFY may have missed."""
    async with host.sessionmaker() as session:
        await session.execute(
            update(Run)
            .where(Run.owner == host.owner, Run.status.in_(("queued", "running")))
            .values(heartbeat_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        result = await session.execute(
            select(Run.id).where(Run.owner == host.owner, Run.cancel_requested.is_(True))
        )
        await session.commit()
    for run_id in result.scalars():
        host.cancel_requested(str(run_id))


async def sweep(host: RunHost, *, at_startup: bool) -> int:
    """Interrupt runs whose process died: on SQLite every running run at start-up (one process
    owns the file); on PostgreSQL those whose heartbeat lease ran out."""
    if not host.postgres and not at_startup:
        return 0
    async with host.sessionmaker() as session:
        query = select(Run).where(Run.status.in_(("queued", "running")), Run.owner != host.owner)
        if host.postgres:
            cutoff = utcnow() - timedelta(seconds=host.settings.run_lease_s)
            query = query.where(Run.heartbeat_at < cutoff)
        dead = (await session.execute(query)).scalars().all()
        for run in dead:
            await ending.end_idle(host, session, run, "interrupted")
    return len(dead)
