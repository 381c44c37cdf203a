"""/api/agents and /api/agent: the agent catalogue and chat, whole (JSON) or streamed (SSE).

Every chat turn is a run (`agent_service.runs`): the route creates it and the executor drives
it, so a client that goes away does not stop it. A JSON reply waits for the run's end; a stream
follows its stored events, each with `id: <seq>` to resume from (`GET /api/runs/{id}/events`).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from typing import Any

import anyio
from fastapi import APIRouter, Response
from sqlalchemy.ext.asyncio import AsyncSession
from sse_starlette import EventSourceResponse

from agent_service.agents import service
from agent_service.agents.dependencies import KnownAgentType, LLMDep
from agent_service.agents.registry import list_agent_types
from agent_service.agents.schemas import (
    AgentChatRequest,
    AgentPublic,
    AgentsPublic,
    ChatReply,
    ChatRequest,
    RunOptions,
    ToolCallResult,
    ToolPublic,
)
from agent_service.assistants.turns import assistant_turn
from agent_service.conversations.models import Conversation
from agent_service.conversations.schemas import UsagePublic
from agent_service.deps import CurrentUser, SessionDep, SettingsDep
from agent_service.llm.client import LLMClient
from agent_service.llm.messages import ChatMessage
from agent_service.runs import service as runs
from agent_service.runs.dependencies import ADMITTED, ExecutorDep
from agent_service.runs.exceptions import StoredRunError
from agent_service.runs.executor import RunExecutor
from agent_service.runs.models import Run
from agent_service.runs.schemas import PendingToolCall, RunOrigin
from agent_service.runs.stream import run_event_stream
from agent_service.users.models import User

router = APIRouter(prefix="/api", tags=["agents"])

RUN_ID_HEADER = {"X-Run-Id": {"description": "The run of this turn.", "schema": {"type": "string"}}}
SSE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"text/event-stream": {}},
        "description": "Named SSE events, each with `id: <seq>`; the first is `run.created`.",
        "headers": RUN_ID_HEADER,
    }
}
JSON_RESPONSES: dict[int | str, dict[str, Any]] = {200: {"headers": RUN_ID_HEADER}}


@router.get("/agents", response_model=AgentsPublic)
async def list_agents(_user: CurrentUser, settings: SettingsDep) -> AgentsPublic:
    """The agent types, what each is for, and the tools each may call; the model that answers."""
    return AgentsPublic(
        model=settings.llm_model,
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
        ],
    )


@router.post(
    "/agent/chat", response_model=ChatReply, responses=JSON_RESPONSES, dependencies=ADMITTED
)
async def chat(
    body: ChatRequest,
    user: CurrentUser,
    session: SessionDep,
    llm: LLMDep,
    executor: ExecutorDep,
    response: Response,
) -> ChatReply:
    """Send a message; no conversation id continues your latest conversation with the agent."""
    conversation, origin = await chat_turn(session, llm, user, body)
    messages = [ChatMessage("user", body.message)]
    run = await start(executor, session, conversation, messages, body, stream=False, origin=origin)
    response.headers["X-Run-Id"] = str(run.id)
    return await wait_reply(executor, run, cancel_on_close=body.on_disconnect == "cancel")


@router.post(
    "/agent/chat/stream",
    response_class=EventSourceResponse,
    responses=SSE_RESPONSES,
    dependencies=ADMITTED,
)
async def chat_stream(
    body: ChatRequest, user: CurrentUser, session: SessionDep, llm: LLMDep, executor: ExecutorDep
) -> EventSourceResponse:
    """Like /api/agent/chat, streamed: run.created, message.delta, tool.call, tool.result, message.completed."""
    conversation, origin = await chat_turn(session, llm, user, body)
    messages = [ChatMessage("user", body.message)]
    run = await start(executor, session, conversation, messages, body, stream=True, origin=origin)
    return run_event_stream(executor, run.id, cancel_on_close=body.on_disconnect == "cancel")


@router.post(
    "/agents/{agent_type}/chat",
    response_model=ChatReply,
    responses=JSON_RESPONSES,
    dependencies=ADMITTED,
)
async def agent_chat(
    agent: KnownAgentType,
    body: AgentChatRequest,
    user: CurrentUser,
    session: SessionDep,
    llm: LLMDep,
    executor: ExecutorDep,
    response: Response,
) -> ChatReply:
    """Append messages to a conversation with this agent type and get its answer."""
    conversation = await service.start_turn(
        session,
        llm,
        user.id,
        agent_type=agent.name,
        conversation_id=body.conversation_id,
        session_key=body.session_id,
    )
    run = await start(executor, session, conversation, incoming(body), body, stream=False)
    response.headers["X-Run-Id"] = str(run.id)
    return await wait_reply(executor, run, cancel_on_close=body.on_disconnect == "cancel")


@router.post(
    "/agents/{agent_type}/chat/stream",
    response_class=EventSourceResponse,
    responses=SSE_RESPONSES,
    dependencies=ADMITTED,
)
async def agent_chat_stream(
    agent: KnownAgentType,
    body: AgentChatRequest,
    user: CurrentUser,
    session: SessionDep,
    llm: LLMDep,
    executor: ExecutorDep,
) -> EventSourceResponse:
    """Like /api/agents/{agent_type}/chat, streamed as server-sent events."""
    conversation = await service.start_turn(
        session,
        llm,
        user.id,
        agent_type=agent.name,
        conversation_id=body.conversation_id,
        session_key=body.session_id,
    )
    run = await start(executor, session, conversation, incoming(body), body, stream=True)
    return run_event_stream(executor, run.id, cancel_on_close=body.on_disconnect == "cancel")


def incoming(body: AgentChatRequest) -> Sequence[ChatMessage]:
    return [ChatMessage(m.role, m.content) for m in body.messages]


async def start(
    executor: RunExecutor,
    session: AsyncSession,
    conversation: Conversation,
    messages: Sequence[ChatMessage],
    options: RunOptions,
    *,
    stream: bool,
    origin: RunOrigin | None = None,
) -> Run:
    return await executor.start_run(
        session,
        conversation,
        messages,
        stream=stream,
        strategy=options.multitask_strategy,
        origin=origin,
    )


async def chat_turn(
    session: AsyncSession, llm: LLMClient, user: User, body: ChatRequest
) -> tuple[Conversation, RunOrigin | None]:
    """The conversation of a turn with an agent type, or with an assistant (`assistant_id`)."""
    if body.assistant_id is None:
        conversation = await service.start_turn(
            session, llm, user.id, agent_type=body.agent_type, conversation_id=body.conversation_id
        )
        return conversation, None
    return await assistant_turn(
        session,
        llm,
        user,
        assistant_id=body.assistant_id,
        version=body.assistant_version,
        conversation_id=body.conversation_id,
    )


async def wait_reply(executor: RunExecutor, run: Run, *, cancel_on_close: bool) -> ChatReply:
    """Follow the run to its end and answer with what it did (its error, if it failed)."""
    try:
        return await _collect_reply(executor, run.id)
    except asyncio.CancelledError:
        if cancel_on_close:
            with anyio.CancelScope(shield=True):
                async with executor.sessionmaker() as session:
                    current = await session.get(Run, run.id)
                    if current is not None:
                        await executor.cancel(session, current)
        raise


async def _collect_reply(executor: RunExecutor, run_id: uuid.UUID) -> ChatReply:
    calls: dict[str, dict[str, Any]] = {}
    results: list[ToolCallResult] = []
    completed: dict[str, Any] | None = None
    pending: list[dict[str, Any]] = []
    conversation_id = ""
    await executor.settled(run_id)  # then its events are read once, not batch by batch
    followed = runs.follow_events(
        executor.sessionmaker, executor.notifier, run_id, poll_s=executor.settings.run_poll_s
    )
    async for row in followed:
        data = row.data
        if row.event == "run.created":
            conversation_id = data["conversation_id"]
        elif row.event == "tool.call":
            calls[data["id"]] = data
        elif row.event == "tool.result":
            arguments = calls.get(data["id"], {}).get("arguments", {})
            results.append(ToolCallResult(arguments=arguments, **data))
        elif row.event == "run.requires_action":
            pending = data["tool_calls"]
        elif row.event == "message.completed":
            completed = data
    if completed is not None:
        return ChatReply(
            response=completed["response"],
            conversation_id=completed["conversation_id"],
            message_id=completed["message_id"],
            tool_calls=results,
            usage=UsagePublic(**completed["usage"]),
            run_id=run_id,
        )
    async with executor.sessionmaker() as session:
        run = await session.get(Run, run_id)
    if run is not None and run.status == "requires_action":
        return ChatReply(
            response="",
            conversation_id=uuid.UUID(conversation_id),
            message_id=None,
            tool_calls=results,
            usage=UsagePublic(**runs.run_public(run).usage.model_dump()),
            run_id=run_id,
            status="requires_action",
            pending_tool_calls=[PendingToolCall(**call) for call in pending],
        )
    error = dict(run.error or {}) if run is not None else {}
    error["headers"] = {**(error.get("headers") or {}), "X-Run-Id": str(run_id)}
    raise StoredRunError(error)
