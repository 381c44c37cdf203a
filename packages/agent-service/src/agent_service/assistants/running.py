"""What a run of an assistant is given: its instructions, its tools (MCP servers listed now) and
its model with the assistant's sampling settings, at the version the run recorded.

A built-in assistant runs exactly as its agent type always did. A run created without a version
(a chat turn continuing a conversation) uses the latest one and records it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from agent_service.agents.loop import ChatModel
from agent_service.agents.registry import AGENT_TYPES, AgentType
from agent_service.agents.tool import Tool, ToolOutcome, error_outcome
from agent_service.assistants.exceptions import AssistantNotFound
from agent_service.assistants.models import Assistant, AssistantVersion
from agent_service.assistants.schemas import AssistantConfig
from agent_service.conversations.models import Conversation
from agent_service.db import parse_id
from agent_service.llm.client import LLMClient
from agent_service.llm.messages import ToolCallRequest
from agent_service.runs.models import Run
from agent_service.runs.schemas import Decision, ToolOutputDecision
from agent_service.settings import Settings
from agent_service.toolsets.assemble import assistant_tools, client_side


@dataclass(frozen=True)
class RunAgent:
    """The agent a run walks: its prompt and tools, and the model it asks."""

    agent: AgentType
    tools: tuple[Tool[Any], ...]
    model: ChatModel

    def client_side(self, tool_name: str) -> bool:
        """Whether the client answers calls to this tool (`submit_tool_outputs`)."""
        return client_side(next((t for t in self.tools if t.name == tool_name), None))


async def stored_config(
    session: AsyncSession, assistant_id: str, version: int | None
) -> tuple[int, AssistantConfig]:
    """An assistant's configuration at `version` (None: its latest), whoever asks."""
    parsed = parse_id(assistant_id)
    row = await session.get(Assistant, parsed) if parsed else None
    if row is None:
        raise AssistantNotFound(assistant_id, version)
    wanted = version if version is not None else row.version
    stored = await session.get(AssistantVersion, (row.id, wanted))
    if stored is None:
        raise AssistantNotFound(assistant_id, version)
    return wanted, AssistantConfig(**stored.config)


def _model_for(model: ChatModel, config: AssistantConfig) -> ChatModel:
    options: dict[str, Any] = config.settings.model_dump(exclude_none=True)
    if config.model:
        options["model"] = config.model
    if not options or not isinstance(model, LLMClient):
        return model
    return model.with_request_options(options)


async def agent_for_run(
    session: AsyncSession,
    settings: Settings,
    model: ChatModel,
    run: Run,
    conversation: Conversation,
) -> RunAgent:
    """The run's assistant at its recorded version (recorded now if it had none: the caller's
    next commit stores it); 404 `assistant_not_found`, 503 `mcp_unavailable` fail the run."""
    assistant_id = run.assistant_id or conversation.agent_type
    builtin = AGENT_TYPES.get(assistant_id)
    if builtin is not None:
        if run.assistant_version is None:
            run.assistant_version = 1
        return RunAgent(builtin, builtin.tools, model)
    version, config = await stored_config(session, assistant_id, run.assistant_version)
    if run.assistant_version is None:
        run.assistant_version = version
    tools = tuple(await assistant_tools(config, settings))
    agent = AgentType(
        name=config.name,
        description=config.description,
        system_prompt=config.instructions,
        tools=tools,
    )
    return RunAgent(agent, tools, _model_for(model, config))


def client_outcome(call: ToolCallRequest, decision: Decision) -> ToolOutcome:
    """A client-side function's call answered with the output the client posted; a call the
    client declined (or answered through /resume, without an output) is an error result."""
    if isinstance(decision, ToolOutputDecision):
        return ToolOutcome(call, decision.output)
    if not decision.approve:
        reason = {"reason": decision.reason} if decision.reason else {}
        detail = "The user declined this call; do not retry it unless they ask again."
        return error_outcome(call, "denied", detail, **reason)
    detail = "The client sent no output for this call (post it to /api/runs/{id}/tool_outputs)."
    return error_outcome(call, "no_output", detail)
