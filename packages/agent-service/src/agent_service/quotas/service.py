"""Daily token quotas: what a user's runs used per UTC day, and the reservation that lets a run in.

A run reserves an estimate of its tokens when it is admitted (`reserve_tokens`: one conditional
UPDATE, `tokens + reserved < quota`, so concurrent admissions on any number of replicas see each
other's reservations and the database decides) and gives it back when it settles
(`release_reservation`). Its real tokens are counted as they are known: in the transaction that
stores its answer (`add_usage`), or in one of their own at a pause or an end without an answer
(`record_usage`). A run admitted with anything left finishes even if it crosses the quota; so
the day's count can pass the quota by at most one reservation (when no run uses more than its
reservation), however many turns start at once. The runs executor calls these through
`runs.hooks`.

A reservation lives in the memory of the process driving its run: one killed (or one whose
settlement met a database that was away) never gives it back. So when the held part of a day
would refuse a run, it is counted against the runs that can still hold one (`_holders`), and
what no run holds is reclaimed: a dead process's reservations are free within its runs' lease
plus `SETTLE_GRACE`, not when the UTC day turns.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import NoReturn

from sqlalchemy import func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent_service.db import utcnow
from agent_service.quotas import clock
from agent_service.quotas.exceptions import QuotaExceeded, QuotaHeld
from agent_service.quotas.models import TokenUsage
from agent_service.quotas.schemas import DailyUsagePublic
from agent_service.runs.models import ACTIVE_STATUSES, Run
from agent_service.settings import Settings

logger = logging.getLogger("agent_service.quotas")

# How long after its run's end a reservation may still be on its way back (the run's task gives
# it back just after the final status): until then it is not reclaimed.
SETTLE_GRACE = timedelta(seconds=60)


@dataclass(frozen=True)
class Reservation:
    """Tokens held for one admitted run on the day it was admitted (settled on that day's row)."""

    user_id: uuid.UUID
    day: date
    tokens: int


async def tokens_used(session: AsyncSession, user_id: uuid.UUID, day: date) -> int:
    used = await session.scalar(
        select(TokenUsage.tokens).where(TokenUsage.user_id == user_id, TokenUsage.day == day)
    )
    return int(used or 0)


async def check_quota(session: AsyncSession, settings: Settings, user_id: uuid.UUID) -> None:
    """Before a run does anything (a read): 429 `quota_exceeded` when nothing is left today,
    used or held (see `_refuse`); nothing when there is no quota."""
    quota = settings.user_daily_token_quota
    if quota is None:
        return
    moment = clock.now(session)
    row = await session.get(TokenUsage, (user_id, moment.date()), populate_existing=True)
    if row is None or row.tokens + row.reserved < quota:
        return
    if row.tokens < quota:  # held: by runs still going, or left by runs that died
        held = min(row.reserved, await _holders(session, user_id) * settings.run_token_reservation)
        if row.tokens + held < quota:
            return  # `reserve_tokens` reclaims the rest
    _refuse(row, quota, moment)


async def reserve_tokens(
    session: AsyncSession, settings: Settings, user_id: uuid.UUID
) -> Reservation | None:
    """Hold `RUN_TOKEN_RESERVATION` tokens of the user's day in the caller's transaction (the
    one that creates or resumes the run: both commit, or neither); None when there is no quota.

    One conditional UPDATE: on PostgreSQL it waits for a concurrent holder's row lock and checks
    its condition again on the row as that one left it, so no two admissions share one gap. The
    caller makes it its transaction's last write (its locks taken in the order the run's own
    final write takes them: conversation, then this row), after making the run active (queued
    or running) in it.

    Refused, it reclaims what no run holds (see the module docstring) with the row locked, so
    no reservation committed meanwhile is taken for a dead one, and tries once more."""
    quota = settings.user_daily_token_quota
    if quota is None:
        return None
    estimate = settings.run_token_reservation
    moment = clock.now(session)
    day = moment.date()
    await _ensure_row(session, user_id, day)
    if not await _hold(session, user_id, day, quota, estimate):
        row = await session.get(
            TokenUsage, (user_id, day), populate_existing=True, with_for_update=True
        )
        assert row is not None  # inserted above
        others = await _holders(session, user_id) - 1  # the run this reservation is for is one
        await _reclaim(session, row, others * estimate)
        if not await _hold(session, user_id, day, quota, estimate):
            _refuse(row, quota, moment)
    return Reservation(user_id, day, estimate)


async def _hold(
    session: AsyncSession, user_id: uuid.UUID, day: date, quota: int, estimate: int
) -> bool:
    held = await session.execute(
        update(TokenUsage)
        .where(
            TokenUsage.user_id == user_id,
            TokenUsage.day == day,
            TokenUsage.tokens + TokenUsage.reserved < quota,
        )
        .values(reserved=TokenUsage.reserved + estimate)
        .execution_options(synchronize_session=False)
    )
    return bool(held.rowcount == 1)  # type: ignore[attr-defined]


async def _holders(session: AsyncSession, user_id: uuid.UUID) -> int:
    """The user's runs that may hold a reservation: queued, running, paused (its reservation
    goes back just after the pause), or ended less than `SETTLE_GRACE` ago."""
    recent = Run.finished_at > utcnow() - SETTLE_GRACE
    count = select(func.count()).where(
        Run.user_id == user_id, or_(Run.status.in_(ACTIVE_STATUSES), recent)
    )
    return int(await session.scalar(count) or 0)


async def _reclaim(session: AsyncSession, row: TokenUsage, held: int) -> None:
    """Lower the day's reservations to what its runs can hold (`row` locked; written by the
    next statement's autoflush)."""
    if row.reserved > held:
        logger.warning(
            "reclaimed %d tokens of user %s's quota reserved by runs that ended without settling",
            row.reserved - held,
            row.user_id,
        )
        row.reserved = held


def _refuse(row: TokenUsage, quota: int, moment: datetime) -> NoReturn:
    """429: until midnight UTC when the day's tokens are used up; a short wait when runs still
    going hold the rest (one of them settles soon)."""
    if row.tokens >= quota:
        resets_at = clock.next_utc_midnight(moment)
        raise QuotaExceeded(row.tokens, quota, resets_at=resets_at, now=moment)
    raise QuotaHeld(row.tokens, row.reserved, quota)


async def release_reservation(session: AsyncSession, reservation: Reservation) -> None:
    """After a run: give its reservation back (its tokens are counted apart), in the caller's
    transaction."""
    await session.execute(
        update(TokenUsage)
        .where(
            TokenUsage.user_id == reservation.user_id,
            TokenUsage.day == reservation.day,
            TokenUsage.reserved >= reservation.tokens,
        )
        .values(reserved=TokenUsage.reserved - reservation.tokens)
        .execution_options(synchronize_session=False)
    )


async def _ensure_row(session: AsyncSession, user_id: uuid.UUID, day: date) -> None:
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    insert = dialect.insert(TokenUsage).values(user_id=user_id, day=day, tokens=0, reserved=0)
    await session.execute(insert.on_conflict_do_nothing(index_elements=["user_id", "day"]))


async def record_usage(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    user_id: uuid.UUID,
    tokens: int,
) -> None:
    """After a run: add its tokens to the user's count of today, in a transaction of its own."""
    if tokens <= 0:
        return
    async with sessionmaker() as session:
        await add_usage(session, user_id, tokens)
        await session.commit()


async def add_usage(session: AsyncSession, user_id: uuid.UUID, tokens: int) -> None:
    """Add `tokens` to the user's count of today, quota or not (the usage route shows it), in the
    caller's transaction. One upsert that adds in the database: concurrent runs never lose a count."""
    day = clock.now(session).date()
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    insert = dialect.insert(TokenUsage).values(user_id=user_id, day=day, tokens=tokens, reserved=0)
    await session.execute(
        insert.on_conflict_do_update(
            index_elements=[TokenUsage.user_id, TokenUsage.day],
            set_={"tokens": TokenUsage.tokens + insert.excluded.tokens},
        )
    )


async def usage_today(
    session: AsyncSession, settings: Settings, user_id: uuid.UUID
) -> DailyUsagePublic:
    moment = clock.now(session)
    used = await tokens_used(session, user_id, moment.date())
    quota = settings.user_daily_token_quota
    return DailyUsagePublic(
        day=moment.date(),
        tokens_used=used,
        quota=quota,
        tokens_left=None if quota is None else max(0, quota - used),
        resets_at=clock.next_utc_midnight(moment),
    )
