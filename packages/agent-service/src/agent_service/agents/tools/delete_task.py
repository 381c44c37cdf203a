"""`delete_task`: remove one of the user's tasks, after the user approved it."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from agent_service.agents.effects import task_snapshot
from agent_service.agents.tool import JSONObject, Tool, ToolContext, emphasized
from agent_service.tasks import service as tasks


class DeleteTaskArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    task_id: str = Field(
        description="The id of the task, as returned by create_task or list_tasks."
    )


async def delete_task(context: ToolContext, args: DeleteTaskArgs) -> JSONObject:
    task = await tasks.owned_task(context.session, context.user_id, args.task_id)
    context.effects.append({"undo": "restore_task", "task": task_snapshot(task)})
    await tasks.delete_task(context.session, task)
    return {"deleted": {"task_id": str(task.id), "title": task.title}}


async def describe_delete_task(args: DeleteTaskArgs, context: ToolContext) -> str:
    task = await tasks.owned_task(context.session, context.user_id, args.task_id)
    return f"Delete task {emphasized(task.title)}?"


TOOL = Tool(
    name="delete_task",
    description="Delete one of the user's tasks. The user is asked to approve it first.",
    args_model=DeleteTaskArgs,
    fn=delete_task,
    requires_approval=True,
    describe=describe_delete_task,
)
