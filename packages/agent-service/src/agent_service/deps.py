"""Annotated dependencies shared by every router: session, settings, current user, admin.

Dependencies that only read `app.state` are `async def`: FastAPI runs a plain `def` dependency in
the threadpool, a thread hop per request for a dictionary lookup.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, cast

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent_service.auth import service as auth
from agent_service.errors import Unauthenticated
from agent_service.mail.service import Mailer
from agent_service.pagination import Page as Page  # re-exported: routers import it from here too
from agent_service.pagination import PageDep as PageDep
from agent_service.settings import Settings
from agent_service.users.exceptions import AdminOnly
from agent_service.users.models import User

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/auth/token", auto_error=False)


async def get_settings(request: Request) -> Settings:
    return cast(Settings, request.app.state.settings)


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    factory = cast(async_sessionmaker[AsyncSession], request.app.state.sessionmaker)
    async with factory() as session:
        yield session


async def get_mailer(request: Request) -> Mailer:
    return cast(Mailer, request.app.state.mailer)


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]
MailerDep = Annotated[Mailer, Depends(get_mailer)]


async def get_current_user(
    session: SessionDep,
    settings: SettingsDep,
    token: Annotated[str | None, Depends(oauth2_scheme)],
) -> User:
    if not token:
        raise Unauthenticated()
    return await auth.user_from_access_token(session, settings, token)


CurrentUser = Annotated[User, Depends(get_current_user)]


async def get_admin_user(user: CurrentUser) -> User:
    if not user.is_admin:
        raise AdminOnly()
    return user


AdminUser = Annotated[User, Depends(get_admin_user)]
