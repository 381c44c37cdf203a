"""/api/assistants: built-in, your own and published assistants, and their versions."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from agent_service.assistants import service
from agent_service.assistants.dependencies import ChangeableAssistant
from agent_service.assistants.schemas import (
    AssistantCreate,
    AssistantPublic,
    AssistantUpdate,
    AssistantVersionPublic,
)
from agent_service.deps import CurrentUser, SessionDep
from agent_service.pagination import PAGINATED, PageDep

router = APIRouter(prefix="/api/assistants", tags=["assistants"])


@router.get("", response_model=list[AssistantPublic], responses=PAGINATED)
async def list_assistants(
    user: CurrentUser, session: SessionDep, page: PageDep, response: Response
) -> list[AssistantPublic]:
    """The assistants you may run: built-in ones, yours and published ones (paginated)."""
    items, total = await service.list_assistants(
        session, user, limit=page.limit, offset=page.offset
    )
    page.set_headers(response, total)
    return items


@router.post("", status_code=status.HTTP_201_CREATED, response_model=AssistantPublic)
async def create_assistant(
    body: AssistantCreate, user: CurrentUser, session: SessionDep
) -> AssistantPublic:
    """Create an assistant (version 1); admins may publish it to all users with `public`."""
    row = await service.create_assistant(session, user, body)
    await session.commit()
    return await service.latest_public(session, row)


@router.get("/{assistant_id}", response_model=AssistantPublic)
async def get_assistant(
    assistant_id: str, user: CurrentUser, session: SessionDep
) -> AssistantPublic:
    """An assistant at its latest version."""
    resolved = await service.resolve_assistant(session, user, assistant_id)
    if resolved.builtin:
        return service.builtin_public(assistant_id)
    row = await service.visible_row(session, user, assistant_id)
    return await service.latest_public(session, row)


@router.patch("/{assistant_id}", response_model=AssistantPublic)
async def update_assistant(
    body: AssistantUpdate, row: ChangeableAssistant, user: CurrentUser, session: SessionDep
) -> AssistantPublic:
    """Change some fields of your assistant: this makes its next version."""
    await service.update_assistant(session, user, row, body)
    await session.commit()
    return await service.latest_public(session, row)


@router.delete("/{assistant_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_assistant(row: ChangeableAssistant, session: SessionDep) -> Response:
    """Delete your assistant and its versions (runs that used it keep their record)."""
    await service.delete_assistant(session, row)
    await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{assistant_id}/versions", response_model=list[AssistantVersionPublic])
async def list_assistant_versions(
    assistant_id: str, user: CurrentUser, session: SessionDep
) -> list[AssistantVersionPublic]:
    """Every version of an assistant, newest first."""
    return list(await service.list_versions(session, user, assistant_id))
