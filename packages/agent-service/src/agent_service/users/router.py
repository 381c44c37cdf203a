"""/api/users (admin, or self) and /api/profile (the caller)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response, status

from agent_service.auth import service as auth
from agent_service.auth.models import TokenPurpose
from agent_service.auth.passwords import passwords_for
from agent_service.deps import AdminUser, CurrentUser, MailerDep, SessionDep, SettingsDep
from agent_service.documents import service as documents
from agent_service.mail.service import Mailer
from agent_service.pagination import PAGINATED, PageDep
from agent_service.settings import Settings
from agent_service.storage.dependencies import StorageDep
from agent_service.users import service
from agent_service.users.dependencies import VisibleUser
from agent_service.users.exceptions import AdminOnly
from agent_service.users.models import User
from agent_service.users.schemas import (
    AdminUserCreate,
    ProfileUpdate,
    UserPublic,
    UserUpdate,
)

router = APIRouter(tags=["users"])

_ADMIN_FIELDS = ("is_admin", "is_active", "email_verified")
LAST_ADMIN: dict[int | str, dict[str, Any]] = {
    409: {"description": "`last_admin`: the last active administrator cannot be removed."}
}


@router.get("/api/users", response_model=list[UserPublic], responses=PAGINATED)
async def list_users(
    _admin: AdminUser, session: SessionDep, page: PageDep, response: Response
) -> list[UserPublic]:
    """List every user, oldest first (admin only, paginated)."""
    items, total = await service.list_users(session, limit=page.limit, offset=page.offset)
    page.set_headers(response, total)
    return [UserPublic.model_validate(u) for u in items]


@router.post("/api/users", status_code=status.HTTP_201_CREATED, response_model=UserPublic)
async def create_user(
    body: AdminUserCreate, _admin: AdminUser, session: SessionDep, settings: SettingsDep
) -> UserPublic:
    """Create a user directly, optionally verified or admin (admin only)."""
    user = await service.create_user(session, passwords_for(settings), **body.model_dump())
    await session.commit()
    return UserPublic.model_validate(user)


@router.get("/api/users/{user_id}", response_model=UserPublic)
async def get_user(user: VisibleUser) -> UserPublic:
    """One user: yourself, or anyone for an admin."""
    return UserPublic.model_validate(user)


@router.put("/api/users/{user_id}", response_model=UserPublic, responses=LAST_ADMIN)
async def update_user(
    body: UserUpdate,
    user: VisibleUser,
    current: CurrentUser,
    session: SessionDep,
    mailer: MailerDep,
    settings: SettingsDep,
) -> UserPublic:
    """Change a user; your own email or password needs current_password; roles by an admin."""
    if not current.is_admin and body.model_fields_set.intersection(_ADMIN_FIELDS):
        raise AdminOnly("Changing is_admin, is_active or email_verified")
    async with service.unless_deleted_meanwhile(session, user):
        token = await auth.change_credentials(
            session,
            settings,
            actor=current,
            user=user,
            email=body.email,
            password=body.password,
            current_password=body.current_password,
        )
        await service.update_user(session, user, body)
        await session.commit()
    await _mail_verification(mailer, settings, user=user, token=token)
    return UserPublic.model_validate(user)


async def _mail_verification(
    mailer: Mailer, settings: Settings, *, user: User, token: str | None
) -> None:
    if token is not None:
        await auth.send_token_mail(
            mailer, settings, user=user, purpose=TokenPurpose.VERIFY_EMAIL, token=token
        )


@router.delete("/api/users/{user_id}", status_code=status.HTTP_204_NO_CONTENT, responses=LAST_ADMIN)
async def delete_user(user: VisibleUser, session: SessionDep, storage: StorageDep) -> Response:
    """Delete a user and everything it owns."""
    files = await documents.file_keys_of_user(session, user.id)
    await service.delete_user(session, user)
    await session.commit()
    await documents.remove_files(storage, files)  # after the commit: never a row without its file
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/api/profile", response_model=UserPublic)
async def read_profile(current: CurrentUser) -> UserPublic:
    """The caller's own account."""
    return UserPublic.model_validate(current)


@router.patch("/api/profile", response_model=UserPublic)
async def update_profile(
    body: ProfileUpdate,
    current: CurrentUser,
    session: SessionDep,
    mailer: MailerDep,
    settings: SettingsDep,
) -> UserPublic:
    """Change your name; a new email or password needs current_password."""
    async with service.unless_deleted_meanwhile(session, current):
        token = await auth.change_credentials(
            session,
            settings,
            actor=current,
            user=current,
            email=body.email,
            password=body.new_password,
            current_password=body.current_password,
        )
        if body.name is not None:
            current.name = body.name
        await session.commit()
    await _mail_verification(mailer, settings, user=current, token=token)
    return UserPublic.model_validate(current)
