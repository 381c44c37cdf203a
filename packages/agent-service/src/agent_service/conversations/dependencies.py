"""Load-or-404 for /api/conversations/{conversation_id}: another user's is as unknown as a missing one."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from agent_service.conversations import service
from agent_service.conversations.models import Conversation
from agent_service.deps import CurrentUser, SessionDep


async def owned_conversation(
    conversation_id: str, user: CurrentUser, session: SessionDep
) -> Conversation:
    return await service.owned_conversation(session, user.id, conversation_id)


OwnedConversation = Annotated[Conversation, Depends(owned_conversation)]
