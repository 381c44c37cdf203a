"""A chat turn: the user's messages stored, the agent loop run, each step committed as it ends.

Commits happen at each tool step (the tools' effects with the assistant call and its results, and
the user's messages with the first step) and at the final answer. A turn that fails before its
first step stores the user's messages alone. Either way the history stays one the model accepts,
so the next message continues it.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing
from dataclasses import dataclass

import anyio
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent_service.agents.exceptions import AgentTypeMismatch
from agent_service.agents.loop import ChatModel, FinalAnswer, ToolCallStarted, ToolStep, run_agent
from agent_service.agents.registry import get_agent_type
from agent_service.agents.tool import Toolbox, ToolContext, ToolOutcome
from agent_service.conversations import service as conversations
from agent_service.conversations.exceptions import ConversationNotFound
from agent_service.conversations.models import Conversation, Message
from agent_service.conversations.service import NewMessage
from agent_service.errors import AppError
from agent_service.integrations.github.access import GitHubAccess
from agent_service.llm.client import LLMClient
from agent_service.llm.messages import ChatMessage, TextDelta, Usage

logger = logging.getLogger("agent_service.agents")

DEFAULT_AGENT_TYPE = "assistant"


@dataclass(frozen=True)
class ToolFinished:
    """A tool call's outcome, committed with the step it belongs to."""

    outcome: ToolOutcome


@dataclass(frozen=True)
class TurnCompleted:
    conversation_id: uuid.UUID
    message_id: uuid.UUID
    response: str
    usage: Usage
    outcomes: tuple[ToolOutcome, ...]


TurnEvent = TextDelta | ToolCallStarted | ToolFinished | TurnCompleted


async def start_turn(
    session: AsyncSession,
    llm: LLMClient,
    user_id: uuid.UUID,
    *,
    agent_type: str | None,
    conversation_id: str | None,
) -> Conversation:
    """Check what can fail before any answer starts: the LLM is set, the conversation is reachable.

    A conversation made here is committed by the caller (or by `run_turn` on the same session).
    The user's messages are stored with the turn's first step (a transaction fewer per turn), or
    alone if the turn fails before it.
    """
    llm.require_configured()
    return await resolve_conversation(
        session, user_id, agent_type=agent_type, conversation_id=conversation_id
    )


async def resolve_conversation(
    session: AsyncSession,
    user_id: uuid.UUID,
    *,
    agent_type: str | None,
    conversation_id: str | None,
) -> Conversation:
    """The named conversation (of that agent type), else the latest of the type, else a new one."""
    agent = get_agent_type(agent_type) if agent_type is not None else None
    if conversation_id is not None:
        conversation = await conversations.owned_conversation(session, user_id, conversation_id)
        if agent is not None and agent.name != conversation.agent_type:
            raise AgentTypeMismatch(conversation.id, conversation.agent_type, agent.name)
        return conversation
    name = agent.name if agent is not None else DEFAULT_AGENT_TYPE
    latest = await conversations.latest_conversation(session, user_id, name)
    return latest or await conversations.create_conversation(session, user_id, agent_type=name)


async def run_turn(
    session: AsyncSession,
    model: ChatModel,
    conversation: Conversation,
    messages: Sequence[ChatMessage],
    *,
    max_steps: int,
    stream: bool = False,
    github: GitHubAccess | None = None,
) -> AsyncGenerator[TurnEvent, None]:
    """Answer `messages` (new, not stored yet) in the conversation; ends with `TurnCompleted`.

    No transaction stays open while the model works: the history is read and the connection
    released before the first call, and each step commits before the next call.
    """
    agent = get_agent_type(conversation.agent_type)
    history = [*await conversations.history(session, conversation), *messages]
    await session.commit()
    toolbox = Toolbox(agent.tools, ToolContext(session, conversation.user_id, github))
    pending = [NewMessage(m) for m in messages]
    usage = Usage()
    outcomes: list[ToolOutcome] = []
    loop = run_agent(model, agent, history, toolbox, max_steps=max_steps, stream=stream)
    try:
        async with aclosing(loop) as events:
            async for event in events:
                if isinstance(event, ToolStep):
                    await _store(session, conversation, [*pending, *_step_messages(event)])
                    pending = []
                    usage += event.usage
                    outcomes.extend(event.outcomes)
                    for outcome in event.outcomes:
                        yield ToolFinished(outcome)
                elif isinstance(event, FinalAnswer):
                    usage += event.usage
                    answer = NewMessage(event.message, usage=event.usage)
                    rows = await _store(session, conversation, [*pending, answer])
                    pending = []
                    response = event.message.content or ""
                    yield TurnCompleted(
                        conversation.id, rows[-1].id, response, usage, tuple(outcomes)
                    )
                else:
                    yield event
    except BaseException:
        if pending:  # the turn failed before its first step: keep what the user said
            await _store_after_failure(session, conversation, pending)
        raise


async def _store(
    session: AsyncSession, conversation: Conversation, messages: Sequence[NewMessage]
) -> list[Message]:
    """Append and commit, shielded: a cancelled turn either stored the step or did not, and
    knows which (cancelled inside the commit, it could not tell)."""
    with anyio.CancelScope(shield=True):
        rows = await conversations.append_messages(session, conversation, messages)
        await session.commit()
    return rows


async def _store_after_failure(
    session: AsyncSession, conversation: Conversation, messages: Sequence[NewMessage]
) -> None:
    """Store the user's messages of a failed turn, so the next message continues after them.

    Shielded: a client that went away cancels the turn, not this write. Its own failure (the
    conversation was deleted, or another turn is writing to it) must not hide the turn's error.
    """
    with anyio.CancelScope(shield=True):
        try:
            await session.rollback()
            await session.refresh(conversation)
            await _store(session, conversation, messages)
        except (SQLAlchemyError, AppError):
            logger.warning("could not store the messages of a failed turn", exc_info=True)


def _step_messages(step: ToolStep) -> list[NewMessage]:
    return [
        NewMessage(step.message, usage=step.usage),
        *(
            NewMessage(o.as_message(), tool_name=o.call.name, is_error=o.is_error)
            for o in step.outcomes
        ),
    ]


async def chat(
    session: AsyncSession,
    model: ChatModel,
    conversation: Conversation,
    messages: Sequence[ChatMessage],
    *,
    max_steps: int,
    github: GitHubAccess | None = None,
) -> TurnCompleted:
    """One whole turn, for the JSON routes."""
    turn = run_turn(session, model, conversation, messages, max_steps=max_steps, github=github)
    async with aclosing(turn) as events:
        async for event in events:
            if isinstance(event, TurnCompleted):
                return event
    raise AssertionError("a turn always ends with TurnCompleted or an error")


async def stream_turn(
    sessionmaker: async_sessionmaker[AsyncSession],
    model: ChatModel,
    user_id: uuid.UUID,
    conversation_id: uuid.UUID,
    messages: Sequence[ChatMessage],
    *,
    max_steps: int,
    github: GitHubAccess | None = None,
) -> AsyncGenerator[TurnEvent, None]:
    """One turn, streamed, on its own session: it outlives the request handler that started it."""
    session = sessionmaker()
    try:
        conversation = await conversations.get_conversation(session, user_id, conversation_id)
        if conversation is None:  # deleted between the request and the stream
            raise ConversationNotFound(conversation_id)
        turn = run_turn(
            session, model, conversation, messages, max_steps=max_steps, stream=True, github=github
        )
        async with aclosing(turn) as events:
            async for event in events:
                yield event
    finally:
        # A client that went away cancels this generator; the session still has to close cleanly.
        with anyio.CancelScope(shield=True):
            await session.close()
