"""/api/admin: the operator's view of users."""

from __future__ import annotations

from fastapi import APIRouter, Response

from agent_service.admin.service import owned_counts
from agent_service.deps import AdminUser, SessionDep
from agent_service.pagination import PAGINATED, PageDep
from agent_service.users import service as users
from agent_service.users.schemas import AdminUserPublic, UserPublic

router = APIRouter(prefix="/api/admin", tags=["admin"])


@router.get("/users", response_model=list[AdminUserPublic], responses=PAGINATED)
async def list_users_with_counts(
    _admin: AdminUser, session: SessionDep, page: PageDep, response: Response
) -> list[AdminUserPublic]:
    """Every user with the number of resources it owns (admin only, paginated)."""
    items, total = await users.list_users(session, limit=page.limit, offset=page.offset)
    counts = await owned_counts(session, [u.id for u in items])
    page.set_headers(response, total)
    return [
        AdminUserPublic(**UserPublic.model_validate(u).model_dump(), counts=counts[u.id])
        for u in items
    ]
