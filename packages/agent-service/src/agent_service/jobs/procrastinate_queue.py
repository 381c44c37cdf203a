"""Scale-out runner: procrastinate on PostgreSQL dispatches jobs to `agent-service worker` processes.

The `job` row stays the durable state; a procrastinate job only says "run job <id> now". A worker
claims the row exactly as the in-process runner does, so retries, backoff, interruption and final
failure behave the same under both runners. A sweep in each worker hands out again what was lost:
jobs whose deferral never happened (the API process died between commit and defer) and jobs whose
worker died (procrastinate's stalled jobs, and our rows with an expired lease).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import procrastinate
from procrastinate.exceptions import AlreadyEnqueued

from agent_service.db import create_engine, create_sessionmaker
from agent_service.jobs import service
from agent_service.jobs.execution import execute_job, worker_name
from agent_service.jobs.models import JobStatus
from agent_service.jobs.registry import JobContext, JobHandler, default_handlers
from agent_service.llm.client import LLMClient, build_http_client
from agent_service.settings import Settings

logger = logging.getLogger("agent_service.jobs")

TASK_NAME = "agent_service.run_job"
QUEUE = "agent_service"
SHUTDOWN_GRACE_S = 10.0


def conninfo(settings: Settings) -> str:
    url = settings.resolved_database_url
    if not url.startswith("postgresql+psycopg://"):
        raise RuntimeError(
            "JOB_RUNNER=procrastinate needs PostgreSQL: set DATABASE_URL to a postgresql:// URL "
            "(or use JOB_RUNNER=inline with SQLite)."
        )
    return "postgresql://" + url.removeprefix("postgresql+psycopg://")


def build_procrastinate_app(settings: Settings) -> procrastinate.App:
    app = procrastinate.App(
        connector=procrastinate.PsycopgConnector(
            conninfo=conninfo(settings), kwargs={"application_name": "agent-service"}
        )
    )

    @app.task(name=TASK_NAME, queue=QUEUE, pass_context=True)
    async def run_job(context: procrastinate.JobContext, job_id: str) -> None:
        runtime: WorkerRuntime = context.additional_context["runtime"]
        await runtime.run(uuid.UUID(job_id))

    return app


async def defer(app: procrastinate.App, job_id: uuid.UUID, *, at: datetime | None = None) -> None:
    """Ask for job `job_id` to run (at `at`); a deferral already waiting for it is enough."""
    deferrer = app.configure_task(TASK_NAME, queueing_lock=str(job_id), schedule_at=at)
    with contextlib.suppress(AlreadyEnqueued):
        await deferrer.defer_async(job_id=str(job_id))


class ProcrastinateQueue:
    """The API process's side: defers, never runs."""

    def __init__(self, context: JobContext) -> None:
        self.app = build_procrastinate_app(context.settings)

    async def start(self) -> None:
        await self.app.open_async()

    async def stop(self) -> None:
        await self.app.close_async()

    async def submit(self, job_id: uuid.UUID) -> None:
        try:
            await defer(self.app, job_id)
        except Exception:  # the row is committed: a worker's sweep will hand it out
            logger.warning("could not defer job %s; the worker sweep will", job_id, exc_info=True)


class WorkerRuntime:
    """What a worker process runs a procrastinate job with, and its sweep."""

    def __init__(
        self, context: JobContext, handlers: Mapping[str, JobHandler], app: procrastinate.App
    ) -> None:
        self.context = context
        self.handlers = handlers
        self.app = app
        self.worker = worker_name("procrastinate")

    async def run(self, job_id: uuid.UUID) -> None:
        lease_s = self.context.settings.job_lease_s
        async with self.context.sessionmaker() as session:
            claimed = await service.claim_job(session, job_id, worker=self.worker, lease_s=lease_s)
            if claimed is None:
                job = await service.get_job(session, job_id)
                if job is not None and job.status == JobStatus.QUEUED:
                    await defer(self.app, job_id, at=job.run_after)  # not due yet
                return
        try:
            outcome = await execute_job(self.context, self.handlers, claimed)
        except asyncio.CancelledError:  # stopping: the job was released; have it run elsewhere
            await asyncio.shield(defer(self.app, job_id))
            raise
        if outcome.status is JobStatus.QUEUED:
            await defer(self.app, job_id, at=outcome.run_after)

    async def sweep(self) -> None:
        """Hand out again what no worker holds: stalled procrastinate jobs, undeferred rows."""
        lease_s = self.context.settings.job_lease_s
        for stalled in await self.app.job_manager.get_stalled_jobs(
            queue=QUEUE, seconds_since_heartbeat=lease_s
        ):
            with contextlib.suppress(Exception):
                await self.app.job_manager.retry_job(stalled)
        async with self.context.sessionmaker() as session:
            orphans = await service.due_unclaimed_jobs(
                session, lease_s=lease_s, older_than_s=lease_s
            )
        for job_id in orphans:
            await defer(self.app, job_id)

    async def sweep_forever(self) -> None:
        while True:
            try:
                await self.sweep()
            except Exception:
                logger.warning("job sweep failed; trying again later", exc_info=True)
            await asyncio.sleep(self.context.settings.job_lease_s)


async def run_worker(
    settings: Settings,
    *,
    concurrency: int | None = None,
    install_signal_handlers: bool = True,
    handlers: Mapping[str, JobHandler] | None = None,
) -> None:
    """`agent-service worker`: run jobs until stopped (SIGINT/SIGTERM, or cancelled)."""
    engine = create_engine(settings.resolved_database_url)
    http_client = build_http_client(settings)
    context = JobContext(settings, create_sessionmaker(engine), LLMClient(settings, http_client))
    app = build_procrastinate_app(settings)
    runtime = WorkerRuntime(context, handlers or default_handlers(), app)
    options: dict[str, Any] = {
        "queues": [QUEUE],
        "name": runtime.worker,
        "concurrency": concurrency or settings.job_concurrency,
        "additional_context": {"runtime": runtime},
        "install_signal_handlers": install_signal_handlers,
        "shutdown_graceful_timeout": SHUTDOWN_GRACE_S,
        "fetch_job_polling_interval": settings.job_poll_interval_s,  # besides LISTEN/NOTIFY
        "delete_jobs": "successful",
        "update_heartbeat_interval": max(settings.job_lease_s / 3, 0.5),
        "stalled_worker_timeout": settings.job_lease_s,
    }
    try:
        async with app.open_async():
            sweeper = asyncio.create_task(runtime.sweep_forever(), name="job-sweep")
            try:
                await app.run_worker_async(**options)
            finally:
                sweeper.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sweeper
    finally:
        await http_client.aclose()
        await engine.dispose()
