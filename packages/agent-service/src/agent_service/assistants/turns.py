"""Where a turn with an assistant goes: the assistant the user may run, at the version asked
for (else its latest), and the conversation with it (named, the latest, or a new one)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from agent_service.agents.exceptions import AgentTypeMismatch
from agent_service.assistants.service import resolve_assistant
from agent_service.conversations import service as conversations
from agent_service.conversations.models import Conversation
from agent_service.llm.client import LLMClient
from agent_service.runs.schemas import RunOrigin
from agent_service.users.models import User


async def assistant_turn(
    session: AsyncSession,
    llm: LLMClient,
    user: User,
    *,
    assistant_id: str,
    version: int | None,
    conversation_id: str | None,
    new_conversation: bool = False,
    webhook: str | None = None,
) -> tuple[Conversation, RunOrigin]:
    """404 when the user may not run the assistant (or the version does not exist), 400 when the
    named conversation is with another assistant; `new_conversation`: none named makes one
    (a background run), else the latest with this assistant is continued (a chat turn)."""
    llm.require_configured()
    resolved = await resolve_assistant(session, user, assistant_id, version=version)
    origin = RunOrigin(resolved.assistant_id, resolved.version, webhook=webhook)
    if conversation_id is not None:
        conversation = await conversations.owned_conversation(session, user.id, conversation_id)
        if conversation.agent_type != resolved.assistant_id:
            raise AgentTypeMismatch(conversation.id, conversation.agent_type, assistant_id)
        return conversation, origin
    latest = None
    if not new_conversation:
        latest = await conversations.latest_conversation(session, user.id, resolved.assistant_id)
    conversation = latest or await conversations.create_conversation(
        session, user.id, agent_type=resolved.assistant_id
    )
    return conversation, origin
