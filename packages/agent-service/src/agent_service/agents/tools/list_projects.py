"""`list_projects`: the user's projects by name, with the ids the task tools take as project_id."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from agent_service.agents.tool import JSONObject, Tool, ToolContext
from agent_service.projects import service as projects
from agent_service.projects.schemas import ProjectPublic


class ListProjectsArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=50, ge=1, le=200)


async def list_projects(context: ToolContext, args: ListProjectsArgs) -> JSONObject:
    items, total = await projects.list_projects(
        context.session, context.user_id, limit=args.limit, offset=0
    )
    return {
        "projects": [ProjectPublic.model_validate(p).model_dump(mode="json") for p in items],
        "total": total,
    }


TOOL = Tool(
    name="list_projects",
    description=(
        "List the user's projects, oldest first, with their ids (to file a task under one, pass "
        "its id as project_id to create_task or update_task)."
    ),
    args_model=ListProjectsArgs,
    fn=list_projects,
)
