"""Idempotency keys as rows: claimed by an insert, bound to the run they start, completed with
the response, swept at 24 h.

A claim that is neither bound nor completed yet lives `CLAIM_LEASE`, renewed by its request as it
reads the body (`renew_claim`): a request whose process died or that was cut before it could
release its key frees the key within the lease, not after 24 h.

Insert first, never check-then-insert: the unique (user_id, key) constraint lets exactly one of
any number of concurrent requests claim a key, on SQLite and on PostgreSQL, across replicas.

A key names a run, not an HTTP answer: the request that claimed it binds the run it creates in
the run's own transaction (`bind_run`), so whatever happens to that request afterwards (a 5xx,
a client gone, a process killed), a retry finds the run and gets its outcome. Only a run that
ended without committing anything a retry could repeat (`RunOutcome.VOID`) lets its key go.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, exists, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent_service.idempotency.models import IdempotencyKey
from agent_service.quotas import clock
from agent_service.runs.models import ACTIVE_STATUSES, Run, RunEvent

KEY_TTL = timedelta(hours=24)
# How long a claim neither bound to a run nor answered stays without its request renewing it.
CLAIM_LEASE = timedelta(seconds=60)
SWEEP_BATCH = 100  # expired keys deleted by each new claim

Sessionmaker = async_sessionmaker[AsyncSession]
# Events that show a run did something a retry must not do again: a tool step committed, a
# pause for approval answered, an answer stored.
KEPT_EVENTS = ("tool.result", "run.requires_action", "message.completed")


@dataclass(frozen=True)
class Claim:
    """The key the current request claimed, as the run it starts binds it."""

    row_id: uuid.UUID
    request_hash: Callable[[], str | None]  # None while the body is not read to its end


# Set by the middleware around the request that claimed a key; read by `bind_run` in the run's
# admission (same task, or a task it started: a context is copied into those).
current_claim: ContextVar[Claim | None] = ContextVar("idempotency_claim", default=None)


class RunOutcome(enum.Enum):
    ACTIVE = "active"  # queued or running: a retry follows it
    KEPT = "kept"  # answered, paused for approval, or ended after committing a step
    VOID = "void"  # ended (or gone) having committed nothing: the key is free again


async def claim_key(sessionmaker: Sessionmaker, user_id: uuid.UUID, key: str) -> uuid.UUID | None:
    """Insert the key's row, leased for `CLAIM_LEASE`: its id if this request is the first, None
    if another one was.

    Expired keys are swept in the same transaction (a bounded batch, whoever they belong to), so
    the table stays about one day of keys and an expired key is new again.
    """
    async with sessionmaker() as session:
        now = clock.now(session)
        await _sweep(session, now, user_id)
        row = IdempotencyKey(user_id=user_id, key=key, created_at=now, expires_at=now + CLAIM_LEASE)
        session.add(row)
        try:
            await session.commit()
        except IntegrityError:  # the key is taken (or the user no longer exists)
            await session.rollback()
            return None
        return row.id


async def now(sessionmaker: Sessionmaker) -> datetime:
    """The time by the sessions' clock (no database round trip)."""
    async with sessionmaker() as session:
        return clock.now(session)


async def renew_claim(sessionmaker: Sessionmaker, row_id: uuid.UUID) -> datetime:
    """Lease a claim still in progress `CLAIM_LEASE` more; its new end. A bound or answered key
    keeps its 24 h; a claim swept meanwhile stays gone."""
    async with sessionmaker() as session:
        expires_at = clock.now(session) + CLAIM_LEASE
        await session.execute(
            update(IdempotencyKey)
            .where(
                IdempotencyKey.id == row_id,
                IdempotencyKey.run_id.is_(None),
                IdempotencyKey.response_status.is_(None),
            )
            .values(expires_at=expires_at)
        )
        await session.commit()
        return expires_at


async def _sweep(session: AsyncSession, now: datetime, user_id: uuid.UUID) -> None:
    expired = IdempotencyKey.expires_at <= now
    oldest = select(IdempotencyKey.id).where(expired).order_by(IdempotencyKey.expires_at)
    batch = oldest.limit(SWEEP_BATCH).scalar_subquery()
    mine = (IdempotencyKey.user_id == user_id) & expired
    await session.execute(delete(IdempotencyKey).where(IdempotencyKey.id.in_(batch) | mine))


async def find_key(
    sessionmaker: Sessionmaker, user_id: uuid.UUID, key: str
) -> IdempotencyKey | None:
    """The user's live row for `key`, read fresh (another request may be completing it)."""
    async with sessionmaker() as session:
        row = await session.scalar(
            select(IdempotencyKey).where(
                IdempotencyKey.user_id == user_id, IdempotencyKey.key == key
            )
        )
        if row is not None and row.expires_at <= clock.now(session):
            return None
        return row


async def complete_key(
    sessionmaker: Sessionmaker,
    row_id: uuid.UUID,
    *,
    request_hash: str,
    status: int,
    headers: list[list[str]],
    body: bytes | None,
    run_id: uuid.UUID | None,
) -> None:
    """Store what the first request answered, for every later request with the key, for 24 h
    (the run it bound, if any, stays bound)."""
    async with sessionmaker() as session:
        await session.execute(
            update(IdempotencyKey)
            .where(IdempotencyKey.id == row_id)
            .values(
                expires_at=clock.now(session) + KEY_TTL,
                request_hash=request_hash,
                response_status=status,
                response_headers=headers,
                response_body=body,
                **({} if run_id is None else {"run_id": run_id}),
            )
        )
        await session.commit()


async def bind_run(session: AsyncSession, run_id: uuid.UUID) -> None:
    """Name `run_id` as the run of the current request's key, in the caller's transaction (the
    one that creates the run), for 24 h; nothing when the request claimed no key. A key binds
    one run."""
    claim = current_claim.get()
    if claim is None:
        return
    await session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.id == claim.row_id, IdempotencyKey.run_id.is_(None))
        .values(
            run_id=run_id,
            request_hash=claim.request_hash(),
            expires_at=clock.now(session) + KEY_TTL,
        )
        .execution_options(synchronize_session=False)
    )


async def run_outcome(session: AsyncSession, run_id: uuid.UUID) -> RunOutcome:
    """Where the key's run stands, as a retry sees it (see `RunOutcome`)."""
    status = await session.scalar(select(Run.status).where(Run.id == run_id))
    if status in ACTIVE_STATUSES and status != "requires_action":
        return RunOutcome.ACTIVE
    if status == "completed" or status == "requires_action":
        return RunOutcome.KEPT
    kept = exists().where(RunEvent.run_id == run_id, RunEvent.event.in_(KEPT_EVENTS))
    return RunOutcome.KEPT if await session.scalar(select(kept)) else RunOutcome.VOID


async def key_run_outcome(sessionmaker: Sessionmaker, run_id: uuid.UUID) -> RunOutcome:
    async with sessionmaker() as session:
        return await run_outcome(session, run_id)


async def key_run(sessionmaker: Sessionmaker, run_id: uuid.UUID) -> Run | None:
    """The key's run as stored (None once deleted with its conversation)."""
    async with sessionmaker() as session:
        return await session.get(Run, run_id)


async def forget_key(sessionmaker: Sessionmaker, row_id: uuid.UUID) -> None:
    """Free a key whose run came to nothing (see `RunOutcome.VOID`): the next request with it
    claims it anew. By row id: of two requests that saw it so, the second deletes nothing.
    Not shielded: a request cut while it runs leaves the key as it was, and the next one to look
    sees the same void run and frees it."""
    async with sessionmaker() as session:
        await session.execute(delete(IdempotencyKey).where(IdempotencyKey.id == row_id))
        await session.commit()


async def release_key(sessionmaker: Sessionmaker, row_id: uuid.UUID) -> None:
    """Forget a claim whose request failed (5xx, refused, cut), unless it names a run that goes
    on or kept something: a retry gets that run then. (The middleware calls it shielded: it runs
    while the request is being cancelled too.)"""
    async with sessionmaker() as session:
        run_id = await session.scalar(
            select(IdempotencyKey.run_id).where(IdempotencyKey.id == row_id)
        )
        if run_id is not None and await run_outcome(session, run_id) != RunOutcome.VOID:
            return
        await session.execute(delete(IdempotencyKey).where(IdempotencyKey.id == row_id))
        await session.commit()
