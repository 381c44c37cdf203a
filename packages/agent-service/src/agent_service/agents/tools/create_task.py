"""`create_task`: add a task to the user's workspace."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from agent_service.agents.tool import JSONObject, Tool, ToolContext, emphasized
from agent_service.tasks import service as tasks
from agent_service.tasks.schemas import Description, TaskPriority, TaskPublic, TaskStatus, Title


class CreateTaskArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title = Field(description="A short, specific title.")
    description: Description = Field(default="", description="Details, if the user gave any.")
    priority: TaskPriority = Field(default=TaskPriority.MEDIUM)
    status: TaskStatus = Field(default=TaskStatus.PENDING)
    project_id: str | None = Field(
        default=None, description="The id of one of the user's projects to file the task under."
    )
    due_date: date | None = Field(default=None, description="When it is due (YYYY-MM-DD).")


async def create_task(context: ToolContext, args: CreateTaskArgs) -> JSONObject:
    task = await tasks.create_task(context.session, context.user_id, **args.model_dump())
    context.effects.append({"undo": "delete_task", "task_id": str(task.id)})
    return {"task": TaskPublic.model_validate(task).model_dump(mode="json")}


async def describe_create_task(args: CreateTaskArgs, context: ToolContext) -> str:
    return f"Create task {emphasized(args.title)} ({args.priority.value} priority)?"


TOOL = Tool(
    name="create_task",
    description="Create a task for the user. Returns the task with its id.",
    args_model=CreateTaskArgs,
    fn=create_task,
    describe=describe_create_task,
)
