"""Project rules: every project belongs to one user, and only that user reaches it."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from agent_service.db import parse_id
from agent_service.projects.exceptions import ProjectNotFound
from agent_service.projects.models import Project


async def get_project(
    session: AsyncSession, user_id: uuid.UUID, project_id: uuid.UUID
) -> Project | None:
    """The user's project with this id; None for an unknown id or another user's project."""
    project = await session.get(Project, project_id)
    return project if project is not None and project.user_id == user_id else None


async def owned_project(session: AsyncSession, user_id: uuid.UUID, project_id: str) -> Project:
    """Load-or-404 from an id as sent (malformed ids are 404 too)."""
    parsed = parse_id(project_id)
    project = await get_project(session, user_id, parsed) if parsed else None
    if project is None:
        raise ProjectNotFound(project_id)
    return project


async def create_project(
    session: AsyncSession, user_id: uuid.UUID, *, name: str, description: str = ""
) -> Project:
    project = Project(user_id=user_id, name=name, description=description)
    session.add(project)
    await session.flush()
    return project


async def list_projects(
    session: AsyncSession, user_id: uuid.UUID, *, limit: int, offset: int
) -> tuple[Sequence[Project], int]:
    mine = Project.user_id == user_id
    total = await session.scalar(select(func.count()).select_from(Project).where(mine)) or 0
    result = await session.execute(
        select(Project)
        .where(mine)
        .order_by(Project.created_at, Project.id)
        .limit(limit)
        .offset(offset)
    )
    return result.scalars().all(), total


async def delete_project(session: AsyncSession, project: Project) -> None:
    """Delete the project; its tasks stay, unfiled (the foreign key sets their project_id null)."""
    await session.delete(project)
    await session.flush()
