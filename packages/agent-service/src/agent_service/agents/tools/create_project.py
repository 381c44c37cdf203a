"""`create_project`: a new project, optionally with its first tasks."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from agent_service.agents.tool import JSONObject, Tool, ToolContext
from agent_service.projects import service as projects
from agent_service.projects.schemas import (
    MAX_TASKS_AT_CREATION,
    Name,
    ProjectPublic,
    ProjectTaskCreate,
)
from agent_service.tasks import service as tasks
from agent_service.tasks.schemas import Description, TaskPublic


class CreateProjectArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    description: Description = ""
    tasks: list[ProjectTaskCreate] = Field(
        default_factory=list,
        max_length=MAX_TASKS_AT_CREATION,
        description="Tasks to create in the project right away, if any.",
    )


async def create_project(context: ToolContext, args: CreateProjectArgs) -> JSONObject:
    project = await projects.create_project(
        context.session, context.user_id, name=args.name, description=args.description
    )
    context.effects.append({"undo": "delete_project", "project_id": str(project.id)})
    created = [
        await tasks.create_task(
            context.session, context.user_id, project_id=str(project.id), **task.model_dump()
        )
        for task in args.tasks
    ]
    context.effects.extend({"undo": "delete_task", "task_id": str(t.id)} for t in created)
    return {
        "project": ProjectPublic.model_validate(project).model_dump(mode="json"),
        "tasks": [TaskPublic.model_validate(t).model_dump(mode="json") for t in created],
    }


TOOL = Tool(
    name="create_project",
    description=(
        "Create a project for the user, optionally with tasks in it. Returns the project's id, "
        "to pass as project_id to create_task."
    ),
    args_model=CreateProjectArgs,
    fn=create_project,
)
