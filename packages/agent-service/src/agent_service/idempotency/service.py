"""Idempotency keys as rows: claimed by an insert, completed with the response, swept at 24 h.

Insert first, never check-then-insert: the unique (user_id, key) constraint lets exactly one of
any number of concurrent requests claim a key, on SQLite and on PostgreSQL, across replicas.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import anyio
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent_service.idempotency.models import IdempotencyKey
from agent_service.quotas import clock

KEY_TTL = timedelta(hours=24)
SWEEP_BATCH = 100  # expired keys deleted by each new claim

Sessionmaker = async_sessionmaker[AsyncSession]


async def claim_key(sessionmaker: Sessionmaker, user_id: uuid.UUID, key: str) -> uuid.UUID | None:
    """Insert the key's row: its id if this request is the first, None if another one was.

    Expired keys are swept in the same transaction (a bounded batch, whoever they belong to), so
    the table stays about one day of keys and an expired key is new again.
    """
    async with sessionmaker() as session:
        now = clock.now(session)
        await _sweep(session, now, user_id)
        row = IdempotencyKey(user_id=user_id, key=key, created_at=now, expires_at=now + KEY_TTL)
        session.add(row)
        try:
            await session.commit()
        except IntegrityError:  # the key is taken (or the user no longer exists)
            await session.rollback()
            return None
        return row.id


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
    """Store what the first request answered, for every later request with the key."""
    async with sessionmaker() as session:
        await session.execute(
            update(IdempotencyKey)
            .where(IdempotencyKey.id == row_id)
            .values(
                request_hash=request_hash,
                response_status=status,
                response_headers=headers,
                response_body=body,
                run_id=run_id,
            )
        )
        await session.commit()


async def release_key(sessionmaker: Sessionmaker, row_id: uuid.UUID) -> None:
    """Forget a claim whose request failed (5xx, refused, cut): a retry may do the work then.

    Shielded: it runs while the request is being cancelled too."""
    with anyio.CancelScope(shield=True):
        async with sessionmaker() as session:
            await session.execute(delete(IdempotencyKey).where(IdempotencyKey.id == row_id))
            await session.commit()
