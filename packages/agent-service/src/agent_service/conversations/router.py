"""/api/conversations: the caller's conversations and their histories."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter, Response, status
from sqlalchemy.ext.asyncio import AsyncSession

from agent_service.agents.registry import get_agent_type
from agent_service.conversations import service
from agent_service.conversations.dependencies import OwnedConversation
from agent_service.conversations.models import Conversation, Message
from agent_service.conversations.schemas import (
    ConversationCreate,
    ConversationPublic,
    HistoryPublic,
    MessagePublic,
    ToolCallPublic,
    UsagePublic,
    parse_json_text,
)
from agent_service.deps import CurrentUser, SessionDep
from agent_service.llm.messages import Usage
from agent_service.pagination import PAGINATED, PageDep

router = APIRouter(prefix="/api/conversations", tags=["conversations"])


async def conversations_public(
    session: AsyncSession, conversations: Sequence[Conversation]
) -> list[ConversationPublic]:
    usage = await service.usage_of(session, [c.id for c in conversations])
    return [
        ConversationPublic(
            id=c.id,
            agent_type=c.agent_type,
            title=c.title,
            created_at=c.created_at,
            updated_at=c.updated_at,
            usage=UsagePublic.of(usage[c.id]),
        )
        for c in conversations
    ]


def message_public(row: Message) -> MessagePublic:
    has_usage = row.prompt_tokens is not None or row.completion_tokens is not None
    return MessagePublic(
        id=row.id,
        role=row.role,
        content=row.content,
        tool_calls=[
            ToolCallPublic(id=c["id"], name=c["name"], arguments=parse_json_text(c["arguments"]))
            for c in row.tool_calls
        ]
        if row.tool_calls
        else None,
        tool_call_id=row.tool_call_id,
        name=row.tool_name,
        is_error=row.is_error,
        usage=UsagePublic.of(Usage(row.prompt_tokens or 0, row.completion_tokens or 0))
        if has_usage
        else None,
        created_at=row.created_at,
    )


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ConversationPublic)
async def create_conversation(
    body: ConversationCreate, user: CurrentUser, session: SessionDep
) -> ConversationPublic:
    """Start an empty conversation with an agent type (404 for an unknown type)."""
    agent = get_agent_type(body.agent_type)
    conversation = await service.create_conversation(
        session, user.id, agent_type=agent.name, title=body.title
    )
    await session.commit()
    return (await conversations_public(session, [conversation]))[0]


@router.get("", response_model=list[ConversationPublic], responses=PAGINATED)
async def list_conversations(
    user: CurrentUser, session: SessionDep, page: PageDep, response: Response
) -> list[ConversationPublic]:
    """Your conversations, most recently active first (paginated)."""
    items, total = await service.list_conversations(
        session, user.id, limit=page.limit, offset=page.offset
    )
    page.set_headers(response, total)
    return await conversations_public(session, items)


@router.get("/{conversation_id}", response_model=ConversationPublic)
async def get_conversation(
    conversation: OwnedConversation, session: SessionDep
) -> ConversationPublic:
    """One of your conversations, with the tokens it used."""
    return (await conversations_public(session, [conversation]))[0]


@router.delete("/{conversation_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_conversation(conversation: OwnedConversation, session: SessionDep) -> Response:
    """Delete one of your conversations and its messages."""
    await service.delete_conversation(session, conversation)
    await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{conversation_id}/history", response_model=HistoryPublic)
async def get_history(conversation: OwnedConversation, session: SessionDep) -> HistoryPublic:
    """Every message of one of your conversations, oldest first, tool calls and results included."""
    rows = await service.list_messages(session, conversation)
    return HistoryPublic(
        conversation_id=conversation.id,
        agent_type=conversation.agent_type,
        messages=[message_public(row) for row in rows],
    )
