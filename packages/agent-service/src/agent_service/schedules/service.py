"""Schedule rules: a schedule of an assistant the user may run, its next tick computed in its
timezone, and a due tick started as a background run exactly once across replicas.

A tick is claimed by one conditional UPDATE (`WHERE next_run_at = <the tick seen>`) that moves
`next_run_at` on; the run it starts commits in the same transaction. Two replicas that see the
same due tick race on that UPDATE: one moves it and starts the run, the other moves nothing.
Ticks missed while no replica ran are not made up: the next one after now is scheduled.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter  # type: ignore[import-untyped]
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from agent_service.assistants.service import resolve_assistant
from agent_service.conversations import service as conversations
from agent_service.db import parse_id, utcnow
from agent_service.errors import AppError
from agent_service.llm.messages import ChatMessage
from agent_service.run_webhooks import service as webhooks
from agent_service.run_webhooks.targets import check_webhook_url
from agent_service.runs.executor import RunExecutor
from agent_service.runs.models import Run
from agent_service.runs.schemas import RunOrigin
from agent_service.schedules.exceptions import InvalidCron, ScheduleNotFound, UnknownTimezone
from agent_service.schedules.models import Schedule
from agent_service.schedules.schemas import ScheduleCreate
from agent_service.users.models import User

logger = logging.getLogger("agent_service.schedules")


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UnknownTimezone(name) from None


def next_tick(cron: str, timezone: str, after: datetime) -> datetime:
    """The first tick strictly after `after`, in UTC."""
    local = after.astimezone(_zone(timezone))
    tick: datetime = croniter(cron, local).get_next(datetime)
    return tick.astimezone(UTC)


async def create_schedule(
    session: AsyncSession,
    user: User,
    assistant_id: str,
    body: ScheduleCreate,
    *,
    allow_private: bool,
) -> Schedule:
    resolved = await resolve_assistant(session, user, assistant_id)
    if not croniter.is_valid(body.cron):
        raise InvalidCron(body.cron)
    _zone(body.timezone)
    if body.webhook is not None:
        await check_webhook_url(body.webhook, allow_private=allow_private)
        await webhooks.require_secret(session, user.id)
    schedule = Schedule(
        user_id=user.id,
        assistant_id=resolved.assistant_id,
        cron=body.cron,
        timezone=body.timezone,
        input=[m.model_dump() for m in body.input],
        webhook=body.webhook,
        next_run_at=next_tick(body.cron, body.timezone, utcnow()),
        created_at=utcnow(),
    )
    session.add(schedule)
    await session.flush()
    return schedule


async def owned_schedule(session: AsyncSession, user: User, schedule_id: str) -> Schedule:
    parsed = parse_id(schedule_id)
    schedule = await session.get(Schedule, parsed) if parsed else None
    if schedule is None or schedule.user_id != user.id:
        raise ScheduleNotFound(schedule_id)
    return schedule


async def list_schedules(
    session: AsyncSession, user: User, *, limit: int, offset: int
) -> tuple[Sequence[Schedule], int]:
    mine = Schedule.user_id == user.id
    total = await session.scalar(select(func.count()).select_from(Schedule).where(mine)) or 0
    query = (
        select(Schedule)
        .where(mine)
        .order_by(Schedule.created_at, Schedule.id)
        .limit(limit)
        .offset(offset)
    )
    return (await session.scalars(query)).all(), total


async def schedule_runs(
    session: AsyncSession, schedule: Schedule, *, limit: int, offset: int
) -> tuple[Sequence[Run], int]:
    """The runs a schedule started, newest first."""
    mine = Run.schedule_id == schedule.id
    total = await session.scalar(select(func.count()).select_from(Run).where(mine)) or 0
    query = (
        select(Run).where(mine).order_by(Run.created_at.desc(), Run.id).limit(limit).offset(offset)
    )
    return (await session.scalars(query)).all(), total


async def due_schedules(
    session: AsyncSession, now: datetime, *, limit: int = 20
) -> list[uuid.UUID]:
    query = (
        select(Schedule.id)
        .where(Schedule.next_run_at <= now)
        .order_by(Schedule.next_run_at)
        .limit(limit)
    )
    return list((await session.scalars(query)).all())


async def start_tick(executor: RunExecutor, schedule_id: uuid.UUID) -> Run | None:
    """Claim the schedule's due tick and start its run in one commit; None if another replica
    took it first (or the schedule is gone, or not due)."""
    async with executor.sessionmaker() as session:
        schedule = await session.get(Schedule, schedule_id)
        now = utcnow()
        if schedule is None or schedule.next_run_at > now:
            return None
        due = schedule.next_run_at
        claimed = await session.execute(
            update(Schedule)
            .where(Schedule.id == schedule_id, Schedule.next_run_at == due)
            .values(next_run_at=next_tick(schedule.cron, schedule.timezone, now))
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            await session.rollback()
            return None
        user = await session.get(User, schedule.user_id)
        assert user is not None, "a schedule goes with its user"
        resolved = await resolve_assistant(session, user, schedule.assistant_id)
        conversation = await conversations.create_conversation(
            session,
            user.id,
            agent_type=resolved.assistant_id,
            title=f"Schedule {schedule.id} at {due.isoformat()}",
        )
        origin = RunOrigin(resolved.assistant_id, resolved.version, schedule.webhook, schedule.id)
        messages = [ChatMessage(m["role"], m["content"]) for m in schedule.input]
        return await executor.start_run(session, conversation, messages, stream=True, origin=origin)


async def tick(executor: RunExecutor) -> int:
    """Start the due ticks this replica wins; how many it started. A tick that cannot start
    (the assistant is gone, the quota is spent, the process is full) is logged and skipped."""
    async with executor.sessionmaker() as session:
        due = await due_schedules(session, utcnow())
    started = 0
    for schedule_id in due:
        try:
            started += await start_tick(executor, schedule_id) is not None
        except AppError as exc:
            logger.warning("schedule %s could not start its run: %s", schedule_id, exc.detail)
    return started
