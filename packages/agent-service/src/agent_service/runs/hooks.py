"""The runs' two hooks into per-user quotas: a check before a run, its usage recorded after.

The `quotas` domain (platform) owns the rules; until it exists these are the one place to call
it from, and they do nothing.
"""

from __future__ import annotations

import importlib
import logging
import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent_service.llm.messages import Usage
from agent_service.settings import Settings

logger = logging.getLogger("agent_service.runs.hooks")


def _quotas() -> Any | None:
    try:
        return importlib.import_module("agent_service.quotas.service")
    except ImportError:
        return None


async def before_run(session: AsyncSession, settings: Settings, user_id: uuid.UUID) -> None:
    """429 `quota_exceeded` (from the quotas domain) when the user's daily tokens are used up."""
    quotas = _quotas()
    check = getattr(quotas, "check_quota", None)
    if check is not None:
        await check(session, settings, user_id)


async def after_run(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    user_id: uuid.UUID,
    usage: Usage,
) -> None:
    """Count a finished run's tokens against the user's day; never fails the run."""
    quotas = _quotas()
    record = getattr(quotas, "record_usage", None)
    if record is None or not usage.total_tokens:
        return
    try:
        await record(sessionmaker, settings, user_id, usage.total_tokens)
    except Exception:
        logger.warning("could not record the usage of a run", exc_info=True)
