"""The job table's rules: enqueue in the caller's transaction, claim atomically, record outcomes.

A claim is one UPDATE that picks a due job (queued and past its `run_after`, or running with a
heartbeat older than the lease: its process died) and marks it running for one worker, so two
runners never take the same job. `FOR UPDATE SKIP LOCKED` keeps PostgreSQL workers from waiting on
each other; SQLite serialises writers anyway.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from agent_service.db import utcnow
from agent_service.jobs.models import Job, JobStatus

MAX_BACKOFF_S = 300.0
MAX_ERROR_CHARS = 2000


@dataclass(frozen=True)
class ClaimedJob:
    """A job one worker holds: `attempts` counts this attempt."""

    id: uuid.UUID
    kind: str
    payload: dict[str, Any]
    attempts: int
    max_attempts: int
    worker: str


async def enqueue_job(
    session: AsyncSession, kind: str, payload: dict[str, Any], *, max_attempts: int
) -> Job:
    """Add a job in the caller's transaction: it exists exactly when the caller's rows do.

    After the commit, hand its id to the app's `JobQueue.submit` so a runner starts it at once.
    """
    job = Job(kind=kind, payload=payload, max_attempts=max_attempts)
    session.add(job)
    await session.flush()
    return job


async def get_job(session: AsyncSession, job_id: uuid.UUID) -> Job | None:
    return await session.get(Job, job_id)


def _claimable(now: datetime, lease_s: float) -> ColumnElement[bool]:
    stale = now - timedelta(seconds=lease_s)
    return or_(
        and_(Job.status == JobStatus.QUEUED, Job.run_after <= now),
        and_(Job.status == JobStatus.RUNNING, Job.heartbeat_at < stale),
    )


async def _claim(
    session: AsyncSession, which: ColumnElement[bool], *, worker: str, lease_s: float
) -> ClaimedJob | None:
    now = utcnow()
    statement = (
        update(Job)
        .where(which, _claimable(now, lease_s))
        .values(
            status=JobStatus.RUNNING,
            attempts=Job.attempts + 1,
            heartbeat_at=now,
            worker=worker,
            updated_at=now,
        )
        .returning(Job.id, Job.kind, Job.payload, Job.attempts, Job.max_attempts)
        .execution_options(synchronize_session=False)
    )
    row = (await session.execute(statement)).one_or_none()
    await session.commit()
    if row is None:
        return None
    return ClaimedJob(row.id, row.kind, dict(row.payload), row.attempts, row.max_attempts, worker)


async def claim_next_job(
    session: AsyncSession, *, worker: str, lease_s: float
) -> ClaimedJob | None:
    """Take the most overdue claimable job, if any, and commit the claim."""
    candidate = (
        select(Job.id)
        .where(_claimable(utcnow(), lease_s))
        .order_by(Job.run_after)
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    return await _claim(session, Job.id == candidate, worker=worker, lease_s=lease_s)


async def claim_job(
    session: AsyncSession, job_id: uuid.UUID, *, worker: str, lease_s: float
) -> ClaimedJob | None:
    """Take this job if it is claimable (None: done, not due, or held by a live worker)."""
    return await _claim(session, Job.id == job_id, worker=worker, lease_s=lease_s)


def _held(job: ClaimedJob) -> ColumnElement[bool]:
    return and_(Job.id == job.id, Job.worker == job.worker, Job.status == JobStatus.RUNNING)


async def _update_held(session: AsyncSession, job: ClaimedJob, **values: Any) -> bool:
    statement = (
        update(Job)
        .where(_held(job))
        .values(updated_at=utcnow(), **values)
        .execution_options(synchronize_session=False)
    )
    result = await session.execute(statement)
    await session.commit()
    return bool(getattr(result, "rowcount", 0))


async def beat(session: AsyncSession, job: ClaimedJob) -> bool:
    """Renew the lease; False when the job is no longer ours."""
    return await _update_held(session, job, heartbeat_at=utcnow())


async def mark_succeeded(session: AsyncSession, job: ClaimedJob) -> bool:
    return await _update_held(
        session, job, status=JobStatus.SUCCEEDED, finished_at=utcnow(), last_error=None
    )


async def mark_failed(session: AsyncSession, job: ClaimedJob, error: str) -> bool:
    return await _update_held(
        session,
        job,
        status=JobStatus.FAILED,
        finished_at=utcnow(),
        last_error=error[:MAX_ERROR_CHARS],
    )


async def schedule_retry(
    session: AsyncSession,
    job: ClaimedJob,
    error: str,
    *,
    base_backoff_s: float,
    at_least_s: float | None = None,
) -> datetime:
    """Back to the queue, due after an exponential backoff (or `at_least_s` if that is longer);
    returns when it is due."""
    delay = max(retry_delay_s(job.attempts, base_backoff_s), at_least_s or 0.0)
    run_after = utcnow() + timedelta(seconds=delay)
    await _update_held(
        session,
        job,
        status=JobStatus.QUEUED,
        run_after=run_after,
        last_error=error[:MAX_ERROR_CHARS],
        worker=None,
    )
    return run_after


async def release(session: AsyncSession, job: ClaimedJob) -> bool:
    """Give an interrupted job back (the process is stopping): due now, the attempt not counted."""
    return await _update_held(
        session,
        job,
        status=JobStatus.QUEUED,
        attempts=Job.attempts - 1,
        run_after=utcnow(),
        worker=None,
    )


def retry_delay_s(attempts: int, base_s: float) -> float:
    """`base * 2^(attempts-1)`, at most five minutes."""
    return float(min(base_s * 2 ** max(attempts - 1, 0), MAX_BACKOFF_S))


async def due_unclaimed_jobs(
    session: AsyncSession, *, lease_s: float, older_than_s: float, limit: int = 100
) -> list[uuid.UUID]:
    """Jobs that are due but that no worker took: the procrastinate sweep hands them out again."""
    now = utcnow()
    cutoff = now - timedelta(seconds=older_than_s)
    query = (
        select(Job.id)
        .where(_claimable(now, lease_s), Job.run_after <= cutoff)
        .order_by(Job.run_after)
        .limit(limit)
    )
    return list((await session.scalars(query)).all())
