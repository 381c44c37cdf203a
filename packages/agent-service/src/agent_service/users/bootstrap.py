"""The first administrator, from FIRST_ADMIN_EMAIL / FIRST_ADMIN_PASSWORD, created once."""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent_service.auth.passwords import passwords_for
from agent_service.settings import Settings
from agent_service.users import service

logger = logging.getLogger("agent_service.users")


async def ensure_first_admin(factory: async_sessionmaker[AsyncSession], settings: Settings) -> None:
    if not (settings.first_admin_email and settings.first_admin_password):
        return
    async with factory() as session:
        if await service.get_user_by_email(session, settings.first_admin_email) is not None:
            return
        await service.create_user(
            session,
            passwords_for(settings),
            email=settings.first_admin_email,
            password=settings.first_admin_password.get_secret_value(),
            name="Administrator",
            is_admin=True,
            email_verified=True,
        )
        await session.commit()
        logger.info("first admin created", extra={"email": settings.first_admin_email})
