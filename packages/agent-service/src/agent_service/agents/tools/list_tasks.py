"""`list_tasks`: what is in the user's workspace, filtered."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from agent_service.agents.tool import JSONObject, Tool, ToolContext
from agent_service.tasks import service as tasks
from agent_service.tasks.schemas import TaskPriority, TaskPublic, TaskStatus


class ListTasksArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: TaskStatus | None = None
    priority: TaskPriority | None = None
    project_id: str | None = Field(default=None, description="Only the tasks of this project.")
    limit: int = Field(default=50, ge=1, le=200)


async def list_tasks(context: ToolContext, args: ListTasksArgs) -> JSONObject:
    items, total = await tasks.list_tasks(
        context.session,
        context.user_id,
        status=args.status,
        priority=args.priority,
        project_id=args.project_id,
        limit=args.limit,
        offset=0,
    )
    return {
        "tasks": [TaskPublic.model_validate(t).model_dump(mode="json") for t in items],
        "total": total,
    }


TOOL = Tool(
    name="list_tasks",
    description="List the user's tasks, oldest first, optionally by status, priority or project.",
    args_model=ListTasksArgs,
    fn=list_tasks,
)
