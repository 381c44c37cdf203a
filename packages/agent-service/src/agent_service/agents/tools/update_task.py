"""`update_task`: change a task of the user's (its status, priority, title, ...)."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from agent_service.agents.effects import task_snapshot
from agent_service.agents.tool import JSONObject, Tool, ToolContext, emphasized
from agent_service.errors import InvalidRequest
from agent_service.projects import service as projects
from agent_service.tasks import service as tasks
from agent_service.tasks.schemas import Description, TaskPriority, TaskPublic, TaskStatus, Title


class UpdateTaskArgs(BaseModel):
    """Fields left out or null stay as they are (models often send every field)."""

    model_config = ConfigDict(extra="forbid")

    task_id: str = Field(
        description="The id of the task, as returned by create_task or list_tasks."
    )
    title: Title | None = None
    description: Description | None = None
    priority: TaskPriority | None = None
    status: TaskStatus | None = None
    project_id: str | None = Field(default=None, description="Move the task to this project.")
    due_date: date | None = Field(default=None, description="When it is due (YYYY-MM-DD).")


async def update_task(context: ToolContext, args: UpdateTaskArgs) -> JSONObject:
    changes = args.model_dump(exclude={"task_id"}, exclude_none=True)
    if not changes:
        raise InvalidRequest("Nothing to change: give at least one field besides task_id.")
    task = await tasks.owned_task(context.session, context.user_id, args.task_id)
    context.effects.append({"undo": "restore_task", "task": task_snapshot(task)})
    await tasks.update_task(context.session, task, changes)
    return {"task": TaskPublic.model_validate(task).model_dump(mode="json")}


async def describe_update_task(args: UpdateTaskArgs, context: ToolContext) -> str:
    task = await tasks.owned_task(context.session, context.user_id, args.task_id)
    changes = []
    if args.title is not None:
        changes.append(f"rename it to {emphasized(args.title)}")
    if args.status is not None:
        changes.append(f"mark it {args.status.value.replace('_', ' ')}")
    if args.priority is not None:
        changes.append(f"set its priority to {args.priority.value}")
    if args.project_id is not None:
        project = await projects.owned_project(context.session, context.user_id, args.project_id)
        changes.append(f"move it to project {emphasized(project.name)}")
    if args.due_date is not None:
        changes.append(f"make it due {args.due_date.isoformat()}")
    if args.description is not None:
        changes.append("change its description")
    return f"Change task {emphasized(task.title)}: {', '.join(changes) or 'nothing'}?"


TOOL = Tool(
    name="update_task",
    description="Change one of the user's tasks, e.g. mark it done. Returns the updated task.",
    args_model=UpdateTaskArgs,
    fn=update_task,
    describe=describe_update_task,
)
