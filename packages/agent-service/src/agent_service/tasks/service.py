"""Task rules: every task belongs to one user, and may be filed under one of that user's projects.

The HTTP routes and the agent's tools both come here, so a tool can reach no more than its user can.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import false, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from agent_service.db import parse_id
from agent_service.projects import service as projects
from agent_service.tasks.exceptions import TaskNotFound
from agent_service.tasks.models import Task
from agent_service.tasks.schemas import TaskPriority, TaskStatus


async def get_task(session: AsyncSession, user_id: uuid.UUID, task_id: uuid.UUID) -> Task | None:
    """The user's task with this id; None for an unknown id or another user's task."""
    task = await session.get(Task, task_id)
    return task if task is not None and task.user_id == user_id else None


async def owned_task(session: AsyncSession, user_id: uuid.UUID, task_id: str) -> Task:
    """Load-or-404 from an id as sent (malformed ids are 404 too)."""
    parsed = parse_id(task_id)
    task = await get_task(session, user_id, parsed) if parsed else None
    if task is None:
        raise TaskNotFound(task_id)
    return task


async def create_task(
    session: AsyncSession,
    user_id: uuid.UUID,
    *,
    title: str,
    description: str = "",
    priority: TaskPriority = TaskPriority.MEDIUM,
    status: TaskStatus = TaskStatus.PENDING,
    project_id: str | None = None,
    due_date: date | None = None,
) -> Task:
    """A new task; `project_id` must name one of the user's projects (404 otherwise)."""
    project = await projects.owned_project(session, user_id, project_id) if project_id else None
    task = Task(
        user_id=user_id,
        title=title,
        description=description,
        priority=priority.value,
        status=status.value,
        project_id=project.id if project else None,
        due_date=due_date,
    )
    session.add(task)
    await session.flush()
    return task


async def update_task(session: AsyncSession, task: Task, changes: dict[str, Any]) -> Task:
    """Apply the fields given; `project_id` None unfiles the task, a string refiles it."""
    if "project_id" in changes:
        project_id = changes.pop("project_id")
        task.project_id = (
            (await projects.owned_project(session, task.user_id, project_id)).id
            if project_id
            else None
        )
    for name, value in changes.items():
        setattr(task, name, value.value if isinstance(value, TaskPriority | TaskStatus) else value)
    await session.flush()
    return task


async def list_tasks(
    session: AsyncSession,
    user_id: uuid.UUID,
    *,
    status: TaskStatus | None = None,
    priority: TaskPriority | None = None,
    project_id: str | None = None,
    limit: int,
    offset: int,
) -> tuple[Sequence[Task], int]:
    """The user's tasks, oldest first, filtered; an unknown `project_id` matches nothing."""
    conditions = [Task.user_id == user_id]
    if status is not None:
        conditions.append(Task.status == status.value)
    if priority is not None:
        conditions.append(Task.priority == priority.value)
    if project_id is not None:
        parsed = parse_id(project_id)
        conditions.append(Task.project_id == parsed if parsed else false())
    total = await session.scalar(select(func.count()).select_from(Task).where(*conditions)) or 0
    result = await session.execute(
        select(Task)
        .where(*conditions)
        .order_by(Task.created_at, Task.id)
        .limit(limit)
        .offset(offset)
    )
    return result.scalars().all(), total


async def delete_task(session: AsyncSession, task: Task) -> None:
    await session.delete(task)
    await session.flush()
