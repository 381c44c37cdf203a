"""Load-or-404 (or 403 read-only) for /api/assistants/{assistant_id}."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from agent_service.assistants import service
from agent_service.assistants.models import Assistant
from agent_service.deps import CurrentUser, SessionDep


async def changeable_assistant(
    assistant_id: str, user: CurrentUser, session: SessionDep
) -> Assistant:
    return await service.changeable_assistant(session, user, assistant_id)


ChangeableAssistant = Annotated[Assistant, Depends(changeable_assistant)]
