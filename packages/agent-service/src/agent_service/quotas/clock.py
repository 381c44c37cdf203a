"""The clock the quota and idempotency rules read, injectable without patching anything.

It travels with the database session: `session.info["clock"]` when set, else the system's UTC
clock. Every caller (routes, the runs executor's hooks, jobs) opens its sessions from the app's
one sessionmaker, so a test sets the time for all of them at once with
`app.state.sessionmaker.configure(info={"clock": clock})` and never sleeps through a day.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from agent_service.db import utcnow

Clock = Callable[[], datetime]


def now(session: AsyncSession) -> datetime:
    """The current UTC time as the session's clock tells it."""
    clock: Clock | None = session.info.get("clock")
    return clock() if clock is not None else utcnow()


def next_utc_midnight(moment: datetime) -> datetime:
    start = moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return start + timedelta(days=1)
