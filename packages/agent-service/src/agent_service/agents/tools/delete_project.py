"""`delete_project`: remove one of the user's projects (its tasks stay, unfiled), once approved."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from agent_service.agents.effects import project_snapshot
from agent_service.agents.tool import JSONObject, Tool, ToolContext, emphasized
from agent_service.projects import service as projects


class DeleteProjectArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    project_id: str = Field(description="The id of the project, as returned by create_project.")


async def delete_project(context: ToolContext, args: DeleteProjectArgs) -> JSONObject:
    project = await projects.owned_project(context.session, context.user_id, args.project_id)
    context.effects.append(
        {"undo": "restore_project", **await project_snapshot(context.session, project)}
    )
    await projects.delete_project(context.session, project)
    return {"deleted": {"project_id": str(project.id), "name": project.name}}


async def describe_delete_project(args: DeleteProjectArgs, context: ToolContext) -> str:
    project = await projects.owned_project(context.session, context.user_id, args.project_id)
    return f"Delete project {emphasized(project.name)}? Its tasks are kept, unfiled."


TOOL = Tool(
    name="delete_project",
    description=(
        "Delete one of the user's projects; its tasks are kept, unfiled. The user is asked to "
        "approve it first."
    ),
    args_model=DeleteProjectArgs,
    fn=delete_project,
    requires_approval=True,
    describe=describe_delete_project,
)
