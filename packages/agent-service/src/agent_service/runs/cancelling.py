"""Stopping a run from outside its driver: a cancel request (any replica), and waiting for a run
to reach a final status."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

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
