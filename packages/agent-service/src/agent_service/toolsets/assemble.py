"""One assistant's tools, whatever their kind, as the `Tool`s the agent loop already runs.

Built-in tools are the service's own (with the assistant's approval policy applied); an MCP
server's tools are listed at run start and called through `mcp_servers`; a client-side function
is a tool the service never runs: the run pauses for the client's output (`client_side`).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from agent_service.agents.tool import JSONObject, Tool, ToolContext
from agent_service.assistants.builtin import BUILTIN_TOOLS
from agent_service.assistants.schemas import AssistantConfig
from agent_service.assistants.tools import BuiltinTool, FunctionTool, MCPStdioTool, MCPTool
from agent_service.errors import AppError
from agent_service.llm.messages import ToolSpec
from agent_service.settings import Settings
from agent_service.toolsets import mcp_servers
from agent_service.toolsets.arguments import SchemaArguments, arguments_model

logger = logging.getLogger("agent_service.toolsets")


@dataclass(frozen=True)
class SchemaTool(Tool[SchemaArguments]):
    """A tool whose JSON schema comes from outside (an MCP server, the client) instead of a
    Pydantic model: the model is offered exactly that schema."""

    input_schema: JSONObject = dataclasses.field(default_factory=dict)
    # True for a client-side function: the run pauses for its output instead of calling `fn`.
    client_side: bool = False

    @cached_property
    def spec(self) -> ToolSpec:
        return ToolSpec(self.name, self.description, self.input_schema)


class ClientToolCalled(AppError):
    status_code = 500
    code = "client_tool"


async def _not_run_here(_context: ToolContext, _args: SchemaArguments) -> JSONObject:
    raise ClientToolCalled("This tool runs in the client: its output comes from the client.")


def _mcp_caller(
    server: MCPTool | MCPStdioTool, name: str, settings: Settings
) -> Callable[[ToolContext, SchemaArguments], Awaitable[JSONObject]]:
    async def call(_context: ToolContext, args: SchemaArguments) -> JSONObject:
        return await mcp_servers.call_server_tool(
            server,
            name,
            args.root,
            timeout_s=settings.mcp_timeout_s,
            allow_private=settings.mcp_allow_private,
        )

    return call


def _builtin(tool: BuiltinTool, config: AssistantConfig) -> Tool[Any]:
    shipped = BUILTIN_TOOLS[tool.name]
    if tool.name in config.approval.always:
        return dataclasses.replace(shipped, requires_approval=True)
    if tool.name in config.approval.never:
        return dataclasses.replace(shipped, requires_approval=False)
    return shipped


def _function(tool: FunctionTool) -> SchemaTool:
    return SchemaTool(
        name=tool.name,
        description=tool.description,
        args_model=arguments_model(tool.name, tool.parameters),
        fn=_not_run_here,
        transactional=False,
        requires_approval=True,  # the loop pauses on it, as for an approval
        input_schema=tool.parameters,
        client_side=True,
    )


async def _mcp(server: MCPTool | MCPStdioTool, settings: Settings) -> list[Tool[Any]]:
    timeout_s = settings.mcp_timeout_s
    listed = await mcp_servers.list_server_tools(
        server,
        timeout_s=timeout_s,
        ttl_s=settings.mcp_tools_ttl_s,
        allow_private=settings.mcp_allow_private,
    )
    return [
        SchemaTool(
            name=t.name,
            description=t.description,
            args_model=arguments_model(t.name, t.input_schema),
            fn=_mcp_caller(server, t.name, settings),
            transactional=False,
            requires_approval=server.approval_needed(t.name),
            input_schema=t.input_schema,
        )
        for t in listed
    ]


async def assistant_tools(config: AssistantConfig, settings: Settings) -> list[Tool[Any]]:
    """Every tool of the assistant, MCP servers listed now (503 `mcp_unavailable` if one cannot
    be); a name met twice keeps its first tool."""
    tools: list[Tool[Any]] = []
    for tool in config.tools:
        if isinstance(tool, BuiltinTool):
            tools.append(_builtin(tool, config))
        elif isinstance(tool, FunctionTool):
            tools.append(_function(tool))
        else:
            tools += await _mcp(tool, settings)
    return _first_of_each_name(tools)


def _first_of_each_name(tools: Sequence[Tool[Any]]) -> list[Tool[Any]]:
    seen: dict[str, Tool[Any]] = {}
    for tool in tools:
        if tool.name in seen:
            logger.warning("two tools named %r: the second is not offered", tool.name)
            continue
        seen[tool.name] = tool
    return list(seen.values())


def client_side(tool: Tool[Any] | None) -> bool:
    """Whether a call to this tool is answered by the client (`submit_tool_outputs`)."""
    return isinstance(tool, SchemaTool) and tool.client_side
