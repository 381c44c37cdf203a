"""/api/profile/usage: the caller's tokens today and its daily quota."""

from __future__ import annotations

from fastapi import APIRouter

from agent_service.deps import CurrentUser, SessionDep, SettingsDep
from agent_service.quotas import service
from agent_service.quotas.schemas import DailyUsagePublic

router = APIRouter(tags=["profile"])


@router.get("/api/profile/usage", response_model=DailyUsagePublic)
async def read_usage(
    user: CurrentUser, session: SessionDep, settings: SettingsDep
) -> DailyUsagePublic:
    """Tokens your runs used today (UTC), your daily quota, and when the count resets."""
    return await service.usage_today(session, settings, user.id)
