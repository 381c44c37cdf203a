"""Load-or-404 for /api/users/{user_id}, with the admin/self rule applied first."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from agent_service.db import parse_id
from agent_service.deps import CurrentUser, SessionDep
from agent_service.users import service
from agent_service.users.exceptions import NotYourAccount, UserNotFound
from agent_service.users.models import User


async def visible_user(user_id: str, current: CurrentUser, session: SessionDep) -> User:
    """Admins reach anyone; a user reaches only itself (403 for any other id, known or not)."""
    target_id = parse_id(user_id)
    if not current.is_admin:
        if target_id != current.id:
            raise NotYourAccount()
        return current
    target = await service.get_user(session, target_id) if target_id else None
    if target is None:
        raise UserNotFound(user_id)
    return target


VisibleUser = Annotated[User, Depends(visible_user)]
