"""Which conversation a chat turn belongs to, checked before any answer starts.

The turn itself is a run (`agent_service.runs`): the executor drives the agent loop and stores
what it yields. This module only decides where the new messages go.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from agent_service.agents.exceptions import AgentTypeMismatch
from agent_service.agents.registry import get_agent_type
from agent_service.conversations import service as conversations
from agent_service.conversations.models import Conversation
from agent_service.db import parse_id
from agent_service.llm.client import LLMClient

DEFAULT_AGENT_TYPE = "assistant"


async def start_turn(
    session: AsyncSession,
    llm: LLMClient,
    user_id: uuid.UUID,
    *,
    agent_type: str | None,
    conversation_id: str | None,
    session_key: str | None = None,
) -> Conversation:
    """Check what can fail before any answer starts: the LLM is set, the conversation is reachable.

    A conversation made here is committed with the run that is created for the turn.
    """
    llm.require_configured()
    return await resolve_conversation(
        session,
        user_id,
        agent_type=agent_type,
        conversation_id=conversation_id,
        session_key=session_key,
    )


async def resolve_conversation(
    session: AsyncSession,
    user_id: uuid.UUID,
    *,
    agent_type: str | None,
    conversation_id: str | None,
    session_key: str | None = None,
) -> Conversation:
    """The named conversation (404 if not the user's), else the one the client's `session_key`
    names (made on first use), else the latest of the agent type, else a new one."""
    agent = get_agent_type(agent_type) if agent_type is not None else None
    name = agent.name if agent is not None else DEFAULT_AGENT_TYPE
    if conversation_id is not None:
        conversation = await conversations.owned_conversation(session, user_id, conversation_id)
    elif session_key is not None:
        # Older clients sent a conversation's id as session_id: it still names that conversation.
        parsed = parse_id(session_key)
        found = await conversations.get_conversation(session, user_id, parsed) if parsed else None
        conversation = found or await conversations.keyed_conversation(
            session, user_id, agent_type=name, session_key=session_key
        )
    else:
        latest = await conversations.latest_conversation(session, user_id, name)
        return latest or await conversations.create_conversation(session, user_id, agent_type=name)
    if agent is not None and agent.name != conversation.agent_type:
        raise AgentTypeMismatch(conversation.id, conversation.agent_type, agent.name)
    return conversation
