"""Load-or-404 for /api/tasks/{task_id}: another user's task is as unknown as a missing one."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from agent_service.deps import CurrentUser, SessionDep
from agent_service.tasks import service
from agent_service.tasks.models import Task


async def owned_task(task_id: str, user: CurrentUser, session: SessionDep) -> Task:
    return await service.owned_task(session, user.id, task_id)


OwnedTask = Annotated[Task, Depends(owned_task)]
