"""/api/tasks: the caller's tasks."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from agent_service.deps import CurrentUser, SessionDep
from agent_service.pagination import PAGINATED, PageDep
from agent_service.tasks import service
from agent_service.tasks.dependencies import OwnedTask
from agent_service.tasks.schemas import (
    TaskCreate,
    TaskPriority,
    TaskPublic,
    TaskStatus,
    TaskUpdate,
)

router = APIRouter(prefix="/api/tasks", tags=["tasks"])


@router.get("", response_model=list[TaskPublic], responses=PAGINATED)
async def list_tasks(
    user: CurrentUser,
    session: SessionDep,
    page: PageDep,
    response: Response,
    status: TaskStatus | None = None,
    priority: TaskPriority | None = None,
    project_id: str | None = None,
) -> list[TaskPublic]:
    """Your tasks, oldest first, filtered by status, priority or project (paginated)."""
    items, total = await service.list_tasks(
        session,
        user.id,
        status=status,
        priority=priority,
        project_id=project_id,
        limit=page.limit,
        offset=page.offset,
    )
    page.set_headers(response, total)
    return [TaskPublic.model_validate(t) for t in items]


@router.post("", status_code=status.HTTP_201_CREATED, response_model=TaskPublic)
async def create_task(body: TaskCreate, user: CurrentUser, session: SessionDep) -> TaskPublic:
    """Create a task, optionally in one of your projects."""
    task = await service.create_task(session, user.id, **body.model_dump())
    await session.commit()
    return TaskPublic.model_validate(task)


@router.get("/{task_id}", response_model=TaskPublic)
async def get_task(task: OwnedTask) -> TaskPublic:
    """One of your tasks."""
    return TaskPublic.model_validate(task)


@router.patch("/{task_id}", response_model=TaskPublic)
async def update_task(body: TaskUpdate, task: OwnedTask, session: SessionDep) -> TaskPublic:
    """Change some fields of one of your tasks."""
    await service.update_task(session, task, body.changes())
    await session.commit()
    return TaskPublic.model_validate(task)


@router.delete("/{task_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_task(task: OwnedTask, session: SessionDep) -> Response:
    """Delete one of your tasks."""
    await service.delete_task(session, task)
    await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
