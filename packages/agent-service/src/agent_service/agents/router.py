"""/api/agents and /api/agent: the agent catalogue and chat, whole (JSON) or streamed (SSE)."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sse_starlette import EventSourceResponse

from agent_service.agents import service
from agent_service.agents.dependencies import KnownAgentType, LLMDep
from agent_service.agents.loop import ToolCallStarted
from agent_service.agents.registry import list_agent_types
from agent_service.agents.schemas import (
    AgentChatRequest,
    AgentPublic,
    AgentsPublic,
    ChatReply,
    ChatRequest,
    MessageCompletedEvent,
    MessageDeltaEvent,
    ToolCallEvent,
    ToolCallResult,
    ToolPublic,
    ToolResultEvent,
)
from agent_service.agents.service import ToolFinished, TurnCompleted, TurnEvent
from agent_service.conversations.models import Conversation
from agent_service.conversations.schemas import UsagePublic, parse_json_text
from agent_service.deps import CurrentUser, SessionDep, SettingsDep
from agent_service.integrations.github.access import GitHubAccess
from agent_service.llm.client import LLMClient
from agent_service.llm.messages import ChatMessage, TextDelta
from agent_service.settings import Settings
from agent_service.sse import NamedEvent, sse_response

router = APIRouter(prefix="/api", tags=["agents"])

SSE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/event-stream": {}}, "description": "Named SSE events."}
}


@router.get("/agents", response_model=AgentsPublic)
async def list_agents(_user: CurrentUser) -> AgentsPublic:
    """The agent types, what each is for, and the tools each may call."""
    return AgentsPublic(
        items=[
            AgentPublic(
                agent_type=agent.name,
                description=agent.description,
                tools=[
                    ToolPublic(name=s.name, description=s.description, parameters=s.parameters)
                    for s in (tool.spec for tool in agent.tools)
                ],
            )
            for agent in list_agent_types()
        ]
    )


@router.post("/agent/chat", response_model=ChatReply)
async def chat(
    body: ChatRequest, user: CurrentUser, session: SessionDep, llm: LLMDep, settings: SettingsDep
) -> ChatReply:
    """Send a message; no conversation id continues your latest conversation with the agent."""
    conversation = await service.start_turn(
        session,
        llm,
        user.id,
        agent_type=body.agent_type,
        conversation_id=body.conversation_id,
    )
    messages = [ChatMessage("user", body.message)]
    turn = await service.chat(
        session,
        llm,
        conversation,
        messages,
        max_steps=settings.agent_max_steps,
        github=GitHubAccess.from_settings(settings),
    )
    return chat_reply(turn)


@router.post("/agent/chat/stream", response_class=EventSourceResponse, responses=SSE_RESPONSES)
async def chat_stream(
    body: ChatRequest,
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    llm: LLMDep,
    settings: SettingsDep,
) -> EventSourceResponse:
    """Like /api/agent/chat, streamed: message.delta, tool.call, tool.result, message.completed."""
    conversation = await service.start_turn(
        session,
        llm,
        user.id,
        agent_type=body.agent_type,
        conversation_id=body.conversation_id,
    )
    messages = [ChatMessage("user", body.message)]
    return await streamed_turn(request, session, llm, conversation, messages, settings)


@router.post("/agents/{agent_type}/chat", response_model=ChatReply)
async def agent_chat(
    agent: KnownAgentType,
    body: AgentChatRequest,
    user: CurrentUser,
    session: SessionDep,
    llm: LLMDep,
    settings: SettingsDep,
) -> ChatReply:
    """Append messages to a conversation with this agent type and get its answer."""
    conversation = await service.start_turn(
        session,
        llm,
        user.id,
        agent_type=agent.name,
        conversation_id=body.target_conversation_id,
    )
    turn = await service.chat(
        session,
        llm,
        conversation,
        incoming(body),
        max_steps=settings.agent_max_steps,
        github=GitHubAccess.from_settings(settings),
    )
    return chat_reply(turn)


@router.post(
    "/agents/{agent_type}/chat/stream", response_class=EventSourceResponse, responses=SSE_RESPONSES
)
async def agent_chat_stream(
    agent: KnownAgentType,
    body: AgentChatRequest,
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    llm: LLMDep,
    settings: SettingsDep,
) -> EventSourceResponse:
    """Like /api/agents/{agent_type}/chat, streamed as server-sent events."""
    conversation = await service.start_turn(
        session,
        llm,
        user.id,
        agent_type=agent.name,
        conversation_id=body.target_conversation_id,
    )
    return await streamed_turn(request, session, llm, conversation, incoming(body), settings)


def incoming(body: AgentChatRequest) -> Sequence[ChatMessage]:
    return [ChatMessage(m.role, m.content) for m in body.messages]


def chat_reply(turn: TurnCompleted) -> ChatReply:
    return ChatReply(
        response=turn.response,
        conversation_id=turn.conversation_id,
        message_id=turn.message_id,
        tool_calls=[
            ToolCallResult(
                id=o.call.id,
                name=o.call.name,
                arguments=parse_json_text(o.call.arguments),
                result=parse_json_text(o.content),
                is_error=o.is_error,
            )
            for o in turn.outcomes
        ],
        usage=UsagePublic.of(turn.usage),
    )


async def streamed_turn(
    request: Request,
    session: AsyncSession,
    llm: LLMClient,
    conversation: Conversation,
    messages: Sequence[ChatMessage],
    settings: Settings,
) -> EventSourceResponse:
    """The turn runs inside the response, on its own session, after this handler returned."""
    await session.commit()  # a conversation made for this turn, visible to the stream's session
    sessionmaker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    turn = service.stream_turn(
        sessionmaker,
        llm,
        conversation.user_id,
        conversation.id,
        messages,
        max_steps=settings.agent_max_steps,
        github=GitHubAccess.from_settings(settings),
    )
    return sse_response(named_events(turn), heartbeat_s=settings.sse_heartbeat_s)


async def named_events(
    turn: AsyncGenerator[TurnEvent, None],
) -> AsyncGenerator[NamedEvent, None]:
    async with aclosing(turn) as events:
        async for event in events:
            yield named_event(event)


def named_event(event: TurnEvent) -> NamedEvent:
    """A turn event as DESIGN.md's SSE event name and payload."""
    if isinstance(event, TextDelta):
        return "message.delta", MessageDeltaEvent(delta=event.text)
    if isinstance(event, ToolCallStarted):
        call = event.call
        return "tool.call", ToolCallEvent(
            id=call.id, name=call.name, arguments=parse_json_text(call.arguments)
        )
    if isinstance(event, ToolFinished):
        o = event.outcome
        return "tool.result", ToolResultEvent(
            id=o.call.id, name=o.call.name, result=parse_json_text(o.content), is_error=o.is_error
        )
    return "message.completed", MessageCompletedEvent(
        response=event.response,
        conversation_id=event.conversation_id,
        message_id=event.message_id,
        usage=UsagePublic.of(event.usage),
    )
