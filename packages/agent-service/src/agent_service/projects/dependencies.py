"""Load-or-404 for /api/projects/{project_id}: another user's project is as unknown as a missing one."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from agent_service.deps import CurrentUser, SessionDep
from agent_service.projects import service
from agent_service.projects.models import Project


async def owned_project(project_id: str, user: CurrentUser, session: SessionDep) -> Project:
    return await service.owned_project(session, user.id, project_id)


OwnedProject = Annotated[Project, Depends(owned_project)]
