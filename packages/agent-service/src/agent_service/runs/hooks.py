"""The runs' calls into per-user quotas: a reservation before a run, its usage counted after and
the reservation settled at its end."""

from __future__ import annotations

import logging
import uuid

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent_service.llm.messages import Usage
from agent_service.quotas import service as quotas
from agent_service.runs.exceptions import UsageNotCounted
from agent_service.runs.models import Run
from agent_service.settings import Settings

logger = logging.getLogger("agent_service.runs.hooks")


async def before_run(session: AsyncSession, settings: Settings, user_id: uuid.UUID) -> None:
    """429 `quota_exceeded` when the user's day is used up or held by runs still going."""
    await quotas.check_quota(session, settings, user_id)


async def reserve(
    session: AsyncSession, settings: Settings, user_id: uuid.UUID
) -> quotas.Reservation | None:
    """Hold an estimate of the run's tokens in the run's transaction; 429 when none is left."""
    return await quotas.reserve_tokens(session, settings, user_id)


async def settle(
    session: AsyncSession,
    user_id: uuid.UUID | None,
    reservation: quotas.Reservation | None,
    *,
    streamed_tokens: int,
) -> None:
    """At the end of a run's task: count what it streamed uncounted, give its reservation back;
    the caller commits."""
    if reservation is not None:
        await quotas.release_reservation(session, reservation)
    if user_id is not None and streamed_tokens > 0:
        await quotas.add_usage(session, user_id, streamed_tokens)


async def after_run(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    user_id: uuid.UUID,
    usage: Usage,
) -> None:
    """Count a finished run's tokens against the user's day; a failure here never fails the run."""
    try:
        await quotas.record_usage(sessionmaker, settings, user_id, usage.total_tokens)
    except SQLAlchemyError:
        logger.warning("could not record the usage of a run", exc_info=True)


async def count_with_answer(session: AsyncSession, user_id: uuid.UUID, usage: Usage) -> None:
    """Count the tokens in the transaction that stores the run's answer, so both land in one
    commit (no second transaction per turn, no count lost between the two).

    No savepoint (two more statements on every turn): a refused count raises `UsageNotCounted`,
    the caller rolls back and stores the answer alone; the count never costs the answer. The
    caller flushes its own rows first, so a failure here is the count's.
    """
    if usage.total_tokens <= 0:
        return
    try:
        await quotas.add_usage(session, user_id, usage.total_tokens)
    except SQLAlchemyError as exc:
        raise UsageNotCounted from exc


async def run_ended(session: AsyncSession, run: Run | uuid.UUID, status: str) -> None:
    """In the transaction of a run's final status: its completion webhook, if it has one.
    (Imported here: the background domain builds on the runs modules that call this.)"""
    from agent_service.background.service import enqueue_run_webhook

    await enqueue_run_webhook(session, run, status)
