"""Undo records of the workspace tools, and undoing them: what a rolled-back run takes back.

A tool appends `{"undo": kind, ...}` to its context's `effects` as it changes something; the
executor stores them with the step. Undoing runs them backwards, in the rollback's transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from agent_service.projects.models import Project
from agent_service.tasks.models import Task

TASK_FIELDS = (
    "title",
    "description",
    "priority",
    "status",
    "project_id",
    "due_date",
    "created_at",
)


def task_snapshot(task: Task) -> dict[str, Any]:
    """A task's columns as JSON, enough to put it back as it was."""
    values = {name: getattr(task, name) for name in TASK_FIELDS}
    return {
        "id": str(task.id),
        **{k: (v.isoformat() if isinstance(v, date) else v) for k, v in values.items()},
        "project_id": str(task.project_id) if task.project_id else None,
    }


async def project_snapshot(session: AsyncSession, project: Project) -> dict[str, Any]:
    """A project and the ids of its tasks (deleting it unfiles them)."""
    result = await session.execute(select(Task.id).where(Task.project_id == project.id))
    return {
        "project": {
            "id": str(project.id),
            "name": project.name,
            "description": project.description,
            "created_at": project.created_at.isoformat(),
        },
        "task_ids": [str(task_id) for task_id in result.scalars()],
    }


async def undo_effects(
    session: AsyncSession, user_id: uuid.UUID, effects: Sequence[dict[str, Any]]
) -> None:
    """Take back `effects`, newest first; the caller commits (all or nothing)."""
    for effect in reversed(effects):
        kind = effect.get("undo")
        if kind == "delete_task":
            await _delete(session, Task, user_id, effect["task_id"])
        elif kind == "delete_project":
            await _delete(session, Project, user_id, effect["project_id"])
        elif kind == "restore_task":
            await _restore_task(session, user_id, effect["task"])
        elif kind == "restore_project":
            await _restore_project(session, user_id, effect)
    await session.flush()


async def _delete(
    session: AsyncSession, model: type[Task | Project], user_id: uuid.UUID, row_id: str
) -> None:
    row: Task | Project | None = await session.get(model, uuid.UUID(row_id))
    if row is not None and row.user_id == user_id:
        await session.delete(row)


async def _restore_task(
    session: AsyncSession, user_id: uuid.UUID, snapshot: dict[str, Any]
) -> None:
    task = await session.get(Task, uuid.UUID(snapshot["id"]))
    if task is None:
        task = Task(id=uuid.UUID(snapshot["id"]), user_id=user_id)
        session.add(task)
    elif task.user_id != user_id:
        return
    for name in ("title", "description", "priority", "status"):
        setattr(task, name, snapshot[name])
    project_id = snapshot["project_id"]
    task.project_id = uuid.UUID(project_id) if project_id else None
    due_date = snapshot.get("due_date")  # undo records older than the column have none
    task.due_date = date.fromisoformat(due_date) if due_date else None
    task.created_at = datetime.fromisoformat(snapshot["created_at"])
    await session.flush()


async def _restore_project(
    session: AsyncSession, user_id: uuid.UUID, effect: dict[str, Any]
) -> None:
    snapshot = effect["project"]
    project_id = uuid.UUID(snapshot["id"])
    if await session.get(Project, project_id) is None:
        session.add(
            Project(
                id=project_id,
                user_id=user_id,
                name=snapshot["name"],
                description=snapshot["description"],
                created_at=datetime.fromisoformat(snapshot["created_at"]),
            )
        )
        await session.flush()
    for task_id in effect["task_ids"]:
        task = await session.get(Task, uuid.UUID(task_id))
        if task is not None and task.user_id == user_id and task.project_id is None:
            task.project_id = project_id
