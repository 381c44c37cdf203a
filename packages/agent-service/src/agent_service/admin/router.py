"""/api/admin: the operator's view of users."""

from __future__ import annotations

from fastapi import APIRouter

from agent_service.admin.service import owned_counts
from agent_service.deps import AdminUser, PageDep, SessionDep
from agent_service.users import service as users
from agent_service.users.schemas import AdminUserPublic, AdminUsersPublic, UserPublic

router = APIRouter(prefix="/api/admin", tags=["admin"])


@router.get("/users", response_model=AdminUsersPublic)
async def list_users_with_counts(
    _admin: AdminUser, session: SessionDep, page: PageDep
) -> AdminUsersPublic:
    """Every user with the number of resources it owns (admin only)."""
    items, total = await users.list_users(session, limit=page.limit, offset=page.offset)
    counts = await owned_counts(session, [u.id for u in items])
    return AdminUsersPublic(
        items=[
            AdminUserPublic(**UserPublic.model_validate(u).model_dump(), counts=counts[u.id])
            for u in items
        ],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )
