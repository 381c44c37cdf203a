"""The embedded runner: a task in the API process that claims jobs from the database.

Nothing lives only in memory: a job waits in the `job` table until a runner claims it, so one that
was queued, retrying or cut short by a restart is picked up when the service starts again (a killed
process's job as soon as its lease runs out).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Mapping

from sqlalchemy.exc import SQLAlchemyError

from agent_service.jobs import service
from agent_service.jobs.execution import execute_job, worker_name
from agent_service.jobs.registry import JobContext, JobHandler

logger = logging.getLogger("agent_service.jobs")

# How long a stopping runner waits for its jobs to reach a step where they can stop.
STOP_GRACE_S = 10.0


class InlineRunner:
    """Runs up to `concurrency` jobs at once; wakes on `submit` or every `poll_interval_s`."""

    def __init__(
        self,
        context: JobContext,
        handlers: Mapping[str, JobHandler],
        *,
        concurrency: int,
        poll_interval_s: float,
    ) -> None:
        self.context = context
        self.handlers = handlers
        self.concurrency = concurrency
        self.poll_interval_s = poll_interval_s
        self.worker = worker_name("inline")
        self._wake = asyncio.Event()
        self._running: set[asyncio.Task[object]] = set()
        self._loop_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._loop_task = asyncio.create_task(self._loop(), name="inline-job-runner")

    async def stop(self) -> None:
        """Stop claiming and ask running jobs to stop at their next step (each releases itself);
        a job still running after `STOP_GRACE_S` is cancelled."""
        self.context.stopping.set()
        self._wake.set()
        if self._loop_task is not None:
            await self._loop_task  # it sees `stopping` as soon as it wakes
            self._loop_task = None
        running = set(self._running)
        if not running:
            return
        _, late = await asyncio.wait(running, timeout=STOP_GRACE_S)
        for task in late:
            logger.warning(
                "job %s did not stop within %s s: cancelled", task.get_name(), STOP_GRACE_S
            )
            task.cancel()
        for task in late:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def submit(self, job_id: uuid.UUID) -> None:
        self._wake.set()

    async def _loop(self) -> None:
        while not self.context.stopping.is_set():
            self._wake.clear()
            try:
                await self._fill()
            except Exception:  # the runner must outlive any one failure (a driver's odd error)
                logger.exception("the job runner could not look for jobs; trying again shortly")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_interval_s)

    async def _fill(self) -> None:
        while len(self._running) < self.concurrency and not self.context.stopping.is_set():
            try:
                async with self.context.sessionmaker() as session:
                    claimed = await service.claim_next_job(
                        session, worker=self.worker, lease_s=self.context.settings.job_lease_s
                    )
            except (SQLAlchemyError, OSError):
                logger.warning("could not claim a job; retrying shortly", exc_info=True)
                return
            if claimed is None:
                return
            task: asyncio.Task[object] = asyncio.create_task(
                execute_job(self.context, self.handlers, claimed), name=f"job-{claimed.id}"
            )
            self._running.add(task)
            task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[object]) -> None:
        self._running.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            logger.error("job runner task crashed", exc_info=exc)
        self._wake.set()
