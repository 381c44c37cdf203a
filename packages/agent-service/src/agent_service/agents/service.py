"""A chat turn: the user's messages stored, the agent loop run, each step committed as it ends.

Commits happen at three points: the user's messages (before the model is called), each tool step
(the tools' effects with the assistant call and its results, in one transaction), and the final
answer. A failure anywhere leaves a history the model accepts, so the next message continues it.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing
from dataclasses import dataclass

import anyio
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent_service.agents.exceptions import AgentTypeMismatch
from agent_service.agents.loop import ChatModel, FinalAnswer, ToolCallStarted, ToolStep, run_agent
from agent_service.agents.registry import get_agent_type
from agent_service.agents.tool import Toolbox, ToolContext, ToolOutcome
from agent_service.conversations import service as conversations
from agent_service.conversations.exceptions import ConversationNotFound
from agent_service.conversations.models import Conversation
from agent_service.conversations.service import NewMessage
from agent_service.llm.client import LLMClient
from agent_service.llm.messages import ChatMessage, TextDelta, Usage

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
    messages: Sequence[ChatMessage],
) -> Conversation:
    """Find or start the conversation and commit the new messages; fail first if no LLM is set."""
    llm.require_configured()
    conversation = await resolve_conversation(
        session, user_id, agent_type=agent_type, conversation_id=conversation_id
    )
    await conversations.append_messages(session, conversation, [NewMessage(m) for m in messages])
    await session.commit()
    return conversation


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
    *,
    max_steps: int,
    stream: bool = False,
) -> AsyncGenerator[TurnEvent, None]:
    """Answer the conversation's last messages, committing each step; ends with `TurnCompleted`."""
    agent = get_agent_type(conversation.agent_type)
    history = await conversations.history(session, conversation)
    toolbox = Toolbox(agent.tools, ToolContext(session, conversation.user_id))
    usage = Usage()
    outcomes: list[ToolOutcome] = []
    loop = run_agent(model, agent, history, toolbox, max_steps=max_steps, stream=stream)
    async with aclosing(loop) as events:
        async for event in events:
            if isinstance(event, ToolStep):
                await conversations.append_messages(session, conversation, _step_messages(event))
                await session.commit()
                usage += event.usage
                outcomes.extend(event.outcomes)
                for outcome in event.outcomes:
                    yield ToolFinished(outcome)
            elif isinstance(event, FinalAnswer):
                usage += event.usage
                answer = NewMessage(event.message, usage=event.usage)
                [row] = await conversations.append_messages(session, conversation, [answer])
                await session.commit()
                response = event.message.content or ""
                yield TurnCompleted(conversation.id, row.id, response, usage, tuple(outcomes))
            else:
                yield event


def _step_messages(step: ToolStep) -> list[NewMessage]:
    return [
        NewMessage(step.message, usage=step.usage),
        *(
            NewMessage(o.as_message(), tool_name=o.call.name, is_error=o.is_error)
            for o in step.outcomes
        ),
    ]


async def chat(
    session: AsyncSession, model: ChatModel, conversation: Conversation, *, max_steps: int
) -> TurnCompleted:
    """One whole turn, for the JSON routes."""
    async with aclosing(run_turn(session, model, conversation, max_steps=max_steps)) as events:
        async for event in events:
            if isinstance(event, TurnCompleted):
                return event
    raise AssertionError("a turn always ends with TurnCompleted or an error")


async def stream_turn(
    sessionmaker: async_sessionmaker[AsyncSession],
    model: ChatModel,
    user_id: uuid.UUID,
    conversation_id: uuid.UUID,
    *,
    max_steps: int,
) -> AsyncGenerator[TurnEvent, None]:
    """One turn, streamed, on its own session: it outlives the request handler that started it."""
    session = sessionmaker()
    try:
        conversation = await conversations.get_conversation(session, user_id, conversation_id)
        if conversation is None:  # deleted between the request and the stream
            raise ConversationNotFound(conversation_id)
        turn = run_turn(session, model, conversation, max_steps=max_steps, stream=True)
        async with aclosing(turn) as events:
            async for event in events:
                yield event
    finally:
        # A client that went away cancels this generator; the session still has to close cleanly.
        with anyio.CancelScope(shield=True):
            await session.close()
