"""Daily token quotas: what a user's runs used per UTC day, and the check before a new run.

The runs executor calls `check_quota` before it starts a run and `add_usage` in the transaction
that stores its answer (`record_usage`, in a transaction of its own, when a run pauses or ends
without one), through `runs.hooks`; a run that starts under the quota finishes even if it crosses
it, the next one is refused until the UTC day turns.
"""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent_service.quotas import clock
from agent_service.quotas.exceptions import QuotaExceeded
from agent_service.quotas.models import TokenUsage
from agent_service.quotas.schemas import DailyUsagePublic
from agent_service.settings import Settings


async def tokens_used(session: AsyncSession, user_id: uuid.UUID, day: date) -> int:
    used = await session.scalar(
        select(TokenUsage.tokens).where(TokenUsage.user_id == user_id, TokenUsage.day == day)
    )
    return int(used or 0)


async def check_quota(session: AsyncSession, settings: Settings, user_id: uuid.UUID) -> None:
    """Before a run: 429 `quota_exceeded` with Retry-After (seconds to midnight UTC) when the
    user's runs already used `USER_DAILY_TOKEN_QUOTA` tokens today; nothing when unset."""
    quota = settings.user_daily_token_quota
    if quota is None:
        return
    moment = clock.now(session)
    used = await tokens_used(session, user_id, moment.date())
    if used >= quota:
        raise QuotaExceeded(used, quota, resets_at=clock.next_utc_midnight(moment), now=moment)


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
    insert = dialect.insert(TokenUsage).values(user_id=user_id, day=day, tokens=tokens)
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
