"""Conversation rules: owned by one user, one agent type each, messages appended in order.

This module is the only writer of `message` rows. It appends a step's messages in one flush, so a
caller that commits after `append_messages` commits an assistant tool call with all its results.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from agent_service.conversations.exceptions import ConversationBusy, ConversationNotFound
from agent_service.conversations.models import Conversation, Message
from agent_service.db import parse_id, utcnow
from agent_service.llm.messages import (
    ChatMessage,
    Role,
    ToolCallRequest,
    Usage,
    valid_history,
)

TITLE_LENGTH = 80
_ROLES: dict[str, Role] = {"user": "user", "assistant": "assistant", "tool": "tool"}


@dataclass(frozen=True)
class NewMessage:
    """A message to store: the chat message and what the history shows besides it."""

    message: ChatMessage
    tool_name: str | None = None
    is_error: bool = False
    usage: Usage | None = None


async def create_conversation(
    session: AsyncSession, user_id: uuid.UUID, *, agent_type: str, title: str = ""
) -> Conversation:
    # session_key set too, None: a column left unset is unloaded after the flush, and the run
    # executor, taking this row as the turn committed it, would have to read it again
    conversation = Conversation(
        user_id=user_id, agent_type=agent_type, title=title, session_key=None
    )
    session.add(conversation)
    await session.flush()
    return conversation


async def get_conversation(
    session: AsyncSession, user_id: uuid.UUID, conversation_id: uuid.UUID
) -> Conversation | None:
    """The user's conversation with this id; None for an unknown id or another user's."""
    conversation = await session.get(Conversation, conversation_id)
    return conversation if conversation is not None and conversation.user_id == user_id else None


async def owned_conversation(
    session: AsyncSession, user_id: uuid.UUID, conversation_id: str
) -> Conversation:
    """Load-or-404 from an id as sent (malformed ids are 404 too)."""
    parsed = parse_id(conversation_id)
    conversation = await get_conversation(session, user_id, parsed) if parsed else None
    if conversation is None:
        raise ConversationNotFound(conversation_id)
    return conversation


async def keyed_conversation(
    session: AsyncSession, user_id: uuid.UUID, *, agent_type: str, session_key: str
) -> Conversation:
    """The user's conversation named by the client's own `session_key`, made on first use.

    Two first requests racing with one key make one conversation: the unique (user, key) lets
    the loser read the winner's row instead of failing.
    """
    found = await _by_session_key(session, user_id, session_key)
    if found is not None:
        return found
    conversation = Conversation(user_id=user_id, agent_type=agent_type, session_key=session_key)
    try:
        async with session.begin_nested():
            session.add(conversation)
            await session.flush()
    except IntegrityError:
        found = await _by_session_key(session, user_id, session_key)
        if found is None:
            raise
        return found
    return conversation


async def _by_session_key(
    session: AsyncSession, user_id: uuid.UUID, session_key: str
) -> Conversation | None:
    result = await session.execute(
        select(Conversation).where(
            Conversation.user_id == user_id, Conversation.session_key == session_key
        )
    )
    return result.scalar_one_or_none()


async def latest_conversation(
    session: AsyncSession, user_id: uuid.UUID, agent_type: str
) -> Conversation | None:
    """The user's most recently active conversation with this agent type."""
    result = await session.execute(
        select(Conversation)
        .where(Conversation.user_id == user_id, Conversation.agent_type == agent_type)
        .order_by(Conversation.updated_at.desc(), Conversation.id)
        .limit(1)
    )
    return result.scalar_one_or_none()


async def list_conversations(
    session: AsyncSession, user_id: uuid.UUID, *, limit: int, offset: int
) -> tuple[Sequence[Conversation], int]:
    """The user's conversations, most recently active first."""
    mine = Conversation.user_id == user_id
    total = await session.scalar(select(func.count()).select_from(Conversation).where(mine)) or 0
    result = await session.execute(
        select(Conversation)
        .where(mine)
        .order_by(Conversation.updated_at.desc(), Conversation.id)
        .limit(limit)
        .offset(offset)
    )
    return result.scalars().all(), total


async def delete_conversation(session: AsyncSession, conversation: Conversation) -> None:
    await session.delete(conversation)
    await session.flush()


async def usage_of(
    session: AsyncSession, conversation_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Usage]:
    """Tokens used per conversation: the sum over its messages, so it never drifts."""
    usage = dict.fromkeys(conversation_ids, Usage())
    result = await session.execute(
        select(
            Message.conversation_id,
            func.coalesce(func.sum(Message.prompt_tokens), 0),
            func.coalesce(func.sum(Message.completion_tokens), 0),
        )
        .where(Message.conversation_id.in_(conversation_ids))
        .group_by(Message.conversation_id)
    )
    for conversation_id, prompt, completion in result:
        usage[conversation_id] = Usage(int(prompt or 0), int(completion or 0))
    return usage


async def list_messages(session: AsyncSession, conversation: Conversation) -> Sequence[Message]:
    result = await session.execute(
        select(Message).where(Message.conversation_id == conversation.id).order_by(Message.position)
    )
    return result.scalars().all()


async def history(session: AsyncSession, conversation: Conversation) -> list[ChatMessage]:
    """The conversation as the model sees it: every stored message, every tool call answered.

    Read as plain rows of the four columns the model needs, not as `Message` objects: every turn
    reads the whole history, and objects would stay in the run's session while the model works.
    At 400 messages the read costs 2 ms of CPU instead of 7 (`profile_turn.py --history 400`).
    """
    result = await session.execute(
        select(Message.role, Message.content, Message.tool_calls, Message.tool_call_id)
        .where(Message.conversation_id == conversation.id)
        .order_by(Message.position)
    )
    return valid_history(
        to_chat_message(row.role, row.content, row.tool_calls, row.tool_call_id) for row in result
    )


def to_chat_message(
    role: str,
    content: str | None,
    tool_calls: Sequence[dict[str, str]] | None,
    tool_call_id: str | None,
) -> ChatMessage:
    calls = tuple(
        ToolCallRequest(call["id"], call["name"], call["arguments"]) for call in tool_calls or ()
    )
    return ChatMessage(_ROLES.get(role, "user"), content, calls, tool_call_id)


async def append_messages(
    session: AsyncSession, conversation: Conversation, messages: Sequence[NewMessage]
) -> list[Message]:
    """Add messages after the last one, in one flush (the caller commits).

    A turn racing on the same conversation takes the same positions, so one of the two fails here
    with 409 `conversation_busy` instead of interleaving the histories.
    """
    conversation_id = conversation.id  # a rollback expires the object
    start = conversation.message_count
    rows = [_row(conversation_id, start + offset, new) for offset, new in enumerate(messages)]
    session.add_all(rows)
    conversation.message_count = start + len(rows)
    conversation.updated_at = utcnow()
    if not conversation.title:
        conversation.title = _title_from(messages)
    try:
        await session.flush()
    except IntegrityError as exc:
        await session.rollback()
        raise ConversationBusy(conversation_id) from exc
    return rows


def open_tool_calls(rows: Sequence[Message]) -> list[dict[str, str]]:
    """The tool calls of assistant messages that no tool message answers yet."""
    answered = {row.tool_call_id for row in rows if row.role == "tool"}
    return [
        call
        for row in rows
        if row.role == "assistant"
        for call in row.tool_calls or ()
        if call["id"] not in answered
    ]


async def answer_open_tool_calls(
    session: AsyncSession, conversation: Conversation, *, error: str, detail: str
) -> list[Message]:
    """Answer every open tool call with `{"error": error, "detail": ...}` (the caller commits).

    A turn that ended between an assistant's tool calls and their results (cancelled, failed,
    its process killed) leaves a history that strict OpenAI-compatible servers refuse; these
    synthetic results make it one they accept, and tell the model what happened.
    """
    calls = open_tool_calls(await list_messages(session, conversation))
    results = [
        NewMessage(
            ChatMessage(
                "tool",
                json.dumps({"error": error, "detail": detail}),
                tool_call_id=call["id"],
            ),
            tool_name=call["name"],
            is_error=True,
        )
        for call in calls
    ]
    return await append_messages(session, conversation, results) if results else []


async def delete_messages_from(
    session: AsyncSession, conversation: Conversation, position: int
) -> None:
    """Remove the messages at `position` and after (a rolled-back run's); the caller commits."""
    await session.execute(
        delete(Message).where(
            Message.conversation_id == conversation.id, Message.position >= position
        )
    )
    conversation.message_count = min(conversation.message_count, position)
    conversation.updated_at = utcnow()
    await session.flush()


def _row(conversation_id: uuid.UUID, position: int, new: NewMessage) -> Message:
    message = new.message
    return Message(
        conversation_id=conversation_id,
        position=position,
        role=message.role,
        content=message.content,
        tool_calls=[
            {"id": c.id, "name": c.name, "arguments": c.arguments} for c in message.tool_calls
        ]
        or None,
        tool_call_id=message.tool_call_id,
        tool_name=new.tool_name,
        is_error=new.is_error,
        prompt_tokens=new.usage.prompt_tokens if new.usage else None,
        completion_tokens=new.usage.completion_tokens if new.usage else None,
        created_at=utcnow(),
    )


def _title_from(messages: Sequence[NewMessage]) -> str:
    """A default title: the start of the first user message, on one line."""
    for new in messages:
        if new.message.role == "user" and new.message.content:
            text = " ".join(new.message.content.split())
            return text if len(text) <= TITLE_LENGTH else text[: TITLE_LENGTH - 1] + "…"
    return ""
