"""Running one claimed job, the same way under both runners: heartbeat, outcome, retry or failure."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import SQLAlchemyError

from agent_service.jobs import service
from agent_service.jobs.exceptions import JobInterrupted, PermanentJobError, RetryableJobError
from agent_service.jobs.models import JobStatus
from agent_service.jobs.registry import JobContext, JobHandler
from agent_service.jobs.service import ClaimedJob

logger = logging.getLogger("agent_service.jobs")


def worker_name(runner: str) -> str:
    """Who holds a job: host, process and runner, for the `job.worker` column and the logs."""
    return f"{socket.gethostname()}:{os.getpid()}:{runner}"


@dataclass(frozen=True)
class Outcome:
    status: JobStatus
    run_after: datetime | None = None  # when a retry is due


async def execute_job(
    context: JobContext, handlers: Mapping[str, JobHandler], job: ClaimedJob
) -> Outcome:
    """Run `job` under a heartbeat and record how it ended.

    Cancelled (the process is stopping): the job is released, due at once for the next runner.
    """
    handler = handlers.get(job.kind)
    if handler is None:
        return await _fail(context, job, None, f"No handler for jobs of kind {job.kind!r}.")
    if job.attempts > job.max_attempts:
        message = (
            f"Gave up after {job.max_attempts} attempts: the job was interrupted each time "
            "(did its process run out of memory or get killed?)."
        )
        return await _fail(context, job, handler, message)
    extra = {"job_id": str(job.id), "job_kind": job.kind, "attempt": job.attempts}
    logger.info("job started", extra=extra)
    try:
        async with _heartbeat(context, job):
            await handler.run(context, job.payload)
    except JobInterrupted:
        logger.info("job interrupted: the runner is stopping", extra=extra)
        await _release(context, job)
        return Outcome(JobStatus.QUEUED)
    except asyncio.CancelledError:
        await asyncio.shield(_release(context, job))
        raise
    except PermanentJobError as exc:
        logger.info("job failed: %s", exc.message, extra=extra)
        return await _fail(context, job, handler, exc.message)
    except Exception as exc:
        readable = (
            exc.message
            if isinstance(exc, RetryableJobError)
            else f"an unexpected error ({type(exc).__name__}); the server log has the details"
        )
        logger.warning("job attempt failed: %s", readable, exc_info=exc, extra=extra)
        if job.attempts >= job.max_attempts:
            return await _fail(
                context, job, handler, f"Gave up after {job.attempts} attempts: {readable}"
            )
        async with context.sessionmaker() as session:
            run_after = await service.schedule_retry(
                session,
                job,
                readable,
                base_backoff_s=context.settings.job_retry_backoff_s,
                at_least_s=exc.retry_after_s if isinstance(exc, RetryableJobError) else None,
            )
        return Outcome(JobStatus.QUEUED, run_after)
    async with context.sessionmaker() as session:
        await service.mark_succeeded(session, job)
    logger.info("job succeeded", extra=extra)
    return Outcome(JobStatus.SUCCEEDED)


async def _fail(
    context: JobContext, job: ClaimedJob, handler: JobHandler | None, message: str
) -> Outcome:
    if handler is not None and handler.on_failure is not None:
        try:
            await handler.on_failure(context, job.payload, message)
        except Exception:
            logger.exception("on_failure of job %s failed", job.id)
    async with context.sessionmaker() as session:
        await service.mark_failed(session, job, message)
    return Outcome(JobStatus.FAILED)


async def _release(context: JobContext, job: ClaimedJob) -> None:
    try:
        async with context.sessionmaker() as session:
            await service.release(session, job)
    except SQLAlchemyError:
        logger.exception("could not release job %s; it is taken over once its lease ends", job.id)


@contextlib.asynccontextmanager
async def _heartbeat(context: JobContext, job: ClaimedJob) -> AsyncIterator[None]:
    interval = context.settings.job_lease_s / 3

    finished = asyncio.Event()

    async def beat_until_finished() -> None:
        # not cancelled when the job ends: a beat is never cut inside its transaction
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(finished.wait(), interval)
            if finished.is_set():
                return
            try:
                async with context.sessionmaker() as session:
                    if not await service.beat(session, job):
                        logger.warning("job %s was taken over by another worker", job.id)
            except SQLAlchemyError:
                logger.warning("could not renew the lease of job %s", job.id, exc_info=True)

    task = asyncio.create_task(beat_until_finished(), name=f"job-heartbeat-{job.id}")
    try:
        yield
    finally:
        finished.set()
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:  # the job itself was cancelled: do not wait for the beat
            task.cancel()
            raise
