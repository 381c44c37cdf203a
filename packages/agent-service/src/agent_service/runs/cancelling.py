"""Stopping a run from outside its driver: a cancel request (any replica), and waiting for a run
to reach a final status."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from agent_service.db import utcnow
from agent_service.runs import ending
from agent_service.runs import service as runs
from agent_service.runs.exceptions import RunInProgress
from agent_service.runs.host import RunHost
from agent_service.runs.models import FINAL_STATUSES, Run
from agent_service.runs.notifier import run_key


async def cancel(host: RunHost, session: AsyncSession, run: Run) -> None:
    """Ask a run to stop, on whichever replica it runs; a queued or paused one stops here."""
    await runs.request_cancel(session, host.notifier, run)
    await session.commit()
    host.notifier.wake(f"cancel:{run.id}")
    await session.refresh(run)
    if run.status == "requires_action" or (run.status == "queued" and run.id not in host.tasks):
        await ending.end_idle(host, session, run, "cancelled")
    elif run.status in ("queued", "running") and _owner_stuck(host, run):
        # its owner cannot end it (dead, or its writes do not commit): the state machine
        # moves it here, and the owner, if it comes back, finds it ended
        await ending.end_idle(host, session, run, "cancelled")


def _owner_stuck(host: RunHost, run: Run) -> bool:
    """The run's lease ran out, or this process owns it and the database refuses its end.

    A run of this process whose end waits for a database that was away is not stuck: the
    database took this cancel, so the end's next attempt (within 2 s) commits, answer and all;
    ending it here would drop an answer already made."""
    if run.id in host.stalled:
        return run.id in host.refused
    lease = timedelta(seconds=host.settings.run_lease_s)
    return run.heartbeat_at is not None and run.heartbeat_at < utcnow() - lease


async def wait_final(host: RunHost, run_id: uuid.UUID, *, timeout_s: float) -> None:
    """Wait until the run has a final status (or the deadline passes: 409 run_in_progress)."""
    deadline = time.monotonic() + timeout_s
    while True:
        with host.notifier.watch(run_key(run_id)) as woken:
            async with host.sessionmaker() as session:
                status = await session.scalar(select(Run.status).where(Run.id == run_id))
            if status is None or status in FINAL_STATUSES:
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RunInProgress(run_id)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(remaining, host.settings.run_poll_s)):
                    await woken.wait()
