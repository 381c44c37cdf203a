"""MCP servers as tool sources, through the official `mcp` SDK.

Each listing and each call opens its own short connection (streamable HTTP, SSE or a stdio
process), bounded as a whole by `MCP_TIMEOUT_S`: nothing is held in process memory that another
replica would need, and a server that is down or hangs costs one deadline, never a stuck run.
Listings are cached per process for `MCP_TOOLS_TTL_S`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio
import httpx2
from mcp import Client
from mcp.client.sse import sse_client
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp_types import CallToolResult, TextContent

from agent_service.agents.tool import JSONObject
from agent_service.assistants.tools import MCPStdioTool, MCPTool
from agent_service.errors import AppError, InvalidRequest, UpstreamError
from agent_service.run_webhooks.targets import check_public_url

logger = logging.getLogger("agent_service.toolsets.mcp")

MCPServerConfig = MCPTool | MCPStdioTool


class MCPUnavailable(UpstreamError):
    code = "mcp_unavailable"


class MCPTargetRefused(InvalidRequest):
    code = "mcp_target_refused"


class MCPToolFailed(AppError):
    """A tool's own error (`isError`), or a server that failed during the call: the model reads
    it as the tool's result."""

    status_code = 502
    code = "mcp_tool_error"


@dataclass(frozen=True)
class MCPToolDefinition:
    name: str
    description: str
    input_schema: JSONObject


def describe(server: MCPServerConfig) -> str:
    """How people (and logs) name a server: its URL, or its command; never its headers."""
    if isinstance(server, MCPTool):
        return server.server_url
    return " ".join([server.command, *server.args])


@asynccontextmanager
async def connect(
    server: MCPServerConfig, *, timeout_s: float, allow_private: bool
) -> AsyncIterator[Client]:
    """An initialised MCP session with the server, closed on leaving; a URL that leads to a
    private, loopback or link-local address is refused (`MCP_ALLOW_PRIVATE` lifts it)."""
    if isinstance(server, MCPTool):
        await check_public_url(
            server.server_url,
            allow_private=allow_private,
            refused=MCPTargetRefused,
            what="MCP server",
            setting="MCP_ALLOW_PRIVATE",
        )
    async with AsyncExitStack() as stack:
        if isinstance(server, MCPStdioTool):
            transport: Any = stdio_client(
                StdioServerParameters(command=server.command, args=server.args)
            )
        elif server.resolved_transport == "sse":
            transport = sse_client(
                server.server_url,
                headers=server.headers,
                timeout=timeout_s,
                sse_read_timeout=timeout_s,
            )
        else:
            http = await stack.enter_async_context(
                httpx2.AsyncClient(headers=server.headers, timeout=httpx2.Timeout(timeout_s))
            )
            transport = streamable_http_client(server.server_url, http_client=http)
        client = await stack.enter_async_context(
            Client(transport, read_timeout_seconds=timeout_s, cache=None)
        )
        yield client


def _cache_key(server: MCPServerConfig) -> str:
    return hashlib.sha256(server.model_dump_json().encode()).hexdigest()


_listings: dict[str, tuple[float, list[MCPToolDefinition]]] = {}


async def list_server_tools(
    server: MCPServerConfig, *, timeout_s: float, ttl_s: float, allow_private: bool = False
) -> list[MCPToolDefinition]:
    """The server's tools (those in `allowed_tools`, when given), cached for `ttl_s`.

    A server that cannot be listed within the deadline is 503 `mcp_unavailable`: the run cannot
    offer the model tools it does not know.
    """
    key = _cache_key(server)
    cached = _listings.get(key)
    if cached is not None and cached[0] > time.monotonic():
        return cached[1]
    try:
        with anyio.fail_after(timeout_s):
            async with connect(server, timeout_s=timeout_s, allow_private=allow_private) as client:
                listing = await client.list_tools()
    except MCPTargetRefused:
        raise
    except Exception as exc:
        logger.warning("MCP server %s could not be listed", describe(server), exc_info=exc)
        raise MCPUnavailable(
            f"The MCP server {describe(server)!r} could not be reached or listed within "
            f"{timeout_s:g} s (MCP_TIMEOUT_S): {_reason(exc)}."
        ) from None
    allowed = set(server.allowed_tools) if server.allowed_tools is not None else None
    tools = [
        MCPToolDefinition(t.name, t.description or "", dict(t.input_schema))
        for t in listing.tools
        if allowed is None or t.name in allowed
    ]
    _listings[key] = (time.monotonic() + ttl_s, tools)
    return tools


async def call_server_tool(
    server: MCPServerConfig,
    name: str,
    arguments: JSONObject,
    *,
    timeout_s: float,
    allow_private: bool = False,
) -> JSONObject:
    """Call one tool; its error, the server's failure or the deadline raise `MCPToolFailed`."""
    try:
        with anyio.fail_after(timeout_s):
            async with connect(server, timeout_s=timeout_s, allow_private=allow_private) as client:
                result = await client.call_tool(name, arguments)
    except MCPTargetRefused:
        raise
    except Exception as exc:
        logger.warning("MCP tool %s on %s failed", name, describe(server), exc_info=exc)
        raise MCPToolFailed(
            f"The MCP server {describe(server)!r} failed to run {name!r} within "
            f"{timeout_s:g} s (MCP_TIMEOUT_S): {_reason(exc)}."
        ) from None
    if result.is_error:
        raise MCPToolFailed(_text(result) or f"The MCP tool {name!r} reported an error.")
    return _result_json(result)


def _text(result: CallToolResult) -> str:
    return "\n".join(block.text for block in result.content if isinstance(block, TextContent))


def _result_json(result: CallToolResult) -> JSONObject:
    structured = result.structured_content
    if isinstance(structured, dict):  # MCPServer wraps a plain return as {"result": value}
        return structured
    if structured is not None:
        return {"result": structured}
    text = _text(result)
    try:
        return {"result": json.loads(text)}
    except ValueError:
        return {"result": text}


def _reason(exc: BaseException) -> str:
    """A short cause, from inside the task groups' exception groups."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    if isinstance(exc, TimeoutError):
        return "no answer before the deadline"
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text[:300]}" if text else type(exc).__name__
