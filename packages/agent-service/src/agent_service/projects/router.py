"""/api/projects: the caller's projects, each with its tasks."""

from __future__ import annotations

from fastapi import APIRouter, Response, status
from sqlalchemy.ext.asyncio import AsyncSession

from agent_service.deps import CurrentUser, SessionDep
from agent_service.pagination import PAGINATED, PageDep
from agent_service.projects import service
from agent_service.projects.dependencies import OwnedProject
from agent_service.projects.models import Project
from agent_service.projects.schemas import (
    ProjectCreate,
    ProjectDetail,
    ProjectPublic,
)
from agent_service.tasks import service as tasks
from agent_service.tasks.schemas import TaskPublic

router = APIRouter(prefix="/api/projects", tags=["projects"])

MAX_TASKS_SHOWN = 200


async def project_detail(session: AsyncSession, project: Project) -> ProjectDetail:
    items, _ = await tasks.list_tasks(
        session,
        project.user_id,
        project_id=str(project.id),
        limit=MAX_TASKS_SHOWN,
        offset=0,
    )
    return ProjectDetail(
        **ProjectPublic.model_validate(project).model_dump(),
        tasks=[TaskPublic.model_validate(t) for t in items],
    )


@router.get("", response_model=list[ProjectPublic], responses=PAGINATED)
async def list_projects(
    user: CurrentUser, session: SessionDep, page: PageDep, response: Response
) -> list[ProjectPublic]:
    """Your projects, oldest first, without their tasks (paginated)."""
    items, total = await service.list_projects(
        session, user.id, limit=page.limit, offset=page.offset
    )
    page.set_headers(response, total)
    return [ProjectPublic.model_validate(p) for p in items]


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ProjectDetail)
async def create_project(
    body: ProjectCreate, user: CurrentUser, session: SessionDep
) -> ProjectDetail:
    """Create a project, optionally with its first tasks."""
    project = await service.create_project(
        session, user.id, name=body.name, description=body.description
    )
    for task in body.tasks:
        await tasks.create_task(session, user.id, project_id=str(project.id), **task.model_dump())
    await session.commit()
    return await project_detail(session, project)


@router.get("/{project_id}", response_model=ProjectDetail)
async def get_project(project: OwnedProject, session: SessionDep) -> ProjectDetail:
    """One of your projects with its tasks."""
    return await project_detail(session, project)


@router.delete("/{project_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_project(project: OwnedProject, session: SessionDep) -> Response:
    """Delete one of your projects; its tasks stay, without a project."""
    await service.delete_project(session, project)
    await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
