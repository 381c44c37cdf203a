"""MCP servers as an assistant's tools, against real server processes: the suite's own server
(streamable HTTP, SSE and stdio) and `mcp-server-time` from PyPI, run unchanged."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from agent_service.agents.tool import Toolbox, ToolContext
from agent_service.assistants.schemas import AssistantConfig
from agent_service.llm.messages import ToolCallRequest
from agent_service.settings import Settings
from agent_service.toolsets import mcp_servers
from agent_service.toolsets.assemble import assistant_tools
from tests.mcp_processes import ROOT, mcp_http_server
from tests.service_process import free_port

AUTH = {"Authorization": "Bearer test-token"}
SUITE_STDIO = {
    "type": "mcp_stdio",
    "command": sys.executable,
    "args": [str(ROOT / "tests" / "mcp_server.py"), "stdio"],
}


@pytest.fixture(scope="module")
def streamable_url() -> Iterator[str]:
    with mcp_http_server("streamable-http") as url:
        yield url


def config(*tools: dict[str, Any]) -> AssistantConfig:
    return AssistantConfig.model_validate({"name": "t", "tools": list(tools)})


def toolbox_of(tools: list[Any]) -> Toolbox:
    return Toolbox(tools, ToolContext(session=None, user_id=None))  # type: ignore[arg-type]


async def call(box: Toolbox, name: str, **arguments: Any) -> tuple[Any, bool]:
    outcome = await box.call(ToolCallRequest("call_1", name, json.dumps(arguments)))
    return json.loads(outcome.content), outcome.is_error


@pytest.fixture(autouse=True)
def no_cached_listings() -> None:
    mcp_servers._listings.clear()


@pytest.fixture
def settings(settings: Settings) -> Settings:
    settings.mcp_allow_private = True  # the suite's servers listen on 127.0.0.1
    return settings


async def test_streamable_http_tools_are_listed_and_called(
    streamable_url: str, settings: Settings
) -> None:
    tool = {"type": "mcp", "server_url": streamable_url, "headers": AUTH}
    tools = await assistant_tools(config(tool), settings)
    assert {t.name for t in tools} == {"add", "shout", "fail", "stall"}
    add = next(t for t in tools if t.name == "add")
    assert add.spec.parameters["required"] == ["a", "b"]
    box = toolbox_of(tools)
    assert await call(box, "add", a=2, b=3) == ({"result": 5}, False)
    result, is_error = await call(box, "fail", reason="testing")
    assert is_error and result["error"] == "mcp_tool_error" and "testing" in result["detail"]


async def test_arguments_are_checked_against_the_tool_schema_first(
    streamable_url: str, settings: Settings
) -> None:
    tool = {"type": "mcp", "server_url": streamable_url, "headers": AUTH}
    box = toolbox_of(await assistant_tools(config(tool), settings))
    result, is_error = await call(box, "add", a="two", b=3)
    assert is_error and result["error"] == "invalid_arguments" and "'two'" in result["detail"]
    result, is_error = await call(box, "add", a=2)
    assert is_error and "'b' is a required property" in result["detail"]


async def test_allowed_tools_and_approval_by_name(streamable_url: str, settings: Settings) -> None:
    tool = {
        "type": "mcp",
        "server_url": streamable_url,
        "headers": AUTH,
        "allowed_tools": ["add", "shout"],
        "require_approval": {"always": ["shout"]},
    }
    tools = await assistant_tools(config(tool), settings)
    assert {t.name: t.requires_approval for t in tools} == {"add": False, "shout": True}


async def test_a_tool_past_the_deadline_is_a_tool_error(
    streamable_url: str, settings: Settings
) -> None:
    tool = {"type": "mcp", "server_url": streamable_url, "headers": AUTH}
    quick = settings.model_copy(update={"mcp_timeout_s": 1.0})
    box = toolbox_of(await assistant_tools(config(tool), quick))
    started = time.monotonic()
    result, is_error = await call(box, "stall")
    assert is_error and result["error"] == "mcp_tool_error"
    assert "MCP_TIMEOUT_S" in result["detail"]
    assert time.monotonic() - started < 30  # bounded by the deadline, not the tool's hour


async def test_a_server_that_is_down_or_refuses_the_token_is_unavailable(
    streamable_url: str, settings: Settings
) -> None:
    down = {"type": "mcp", "server_url": f"http://127.0.0.1:{free_port()}/mcp"}
    with pytest.raises(mcp_servers.MCPUnavailable) as raised:
        await assistant_tools(config(down), settings)
    assert "could not be reached" in raised.value.detail
    no_token = {"type": "mcp", "server_url": streamable_url}
    with pytest.raises(mcp_servers.MCPUnavailable):
        await assistant_tools(config(no_token), settings)


async def test_listings_are_cached_for_the_ttl(streamable_url: str, settings: Settings) -> None:
    tool = {"type": "mcp", "server_url": streamable_url, "headers": AUTH}
    await assistant_tools(config(tool), settings)
    with mcp_http_server("streamable-http") as other_url:
        moved = {**tool, "server_url": other_url}
        assert len(await assistant_tools(config(moved), settings)) == 4
    # the first server's listing is served from the cache, without a connection
    assert mcp_servers._cache_key(config(tool).tools[0]) in mcp_servers._listings  # type: ignore[arg-type]


async def test_sse_server(settings: Settings) -> None:
    with mcp_http_server("sse") as url:
        tool = {"type": "mcp", "server_url": url, "headers": AUTH}
        box = toolbox_of(await assistant_tools(config(tool), settings))
        assert await call(box, "shout", text="hi") == ({"result": "HI"}, False)


async def test_stdio_servers_the_suites_and_mcp_server_time(settings: Settings) -> None:
    time_server = {
        "type": "mcp_stdio",
        "command": sys.executable,
        "args": ["-m", "mcp_server_time", "--local-timezone", "UTC"],
    }
    tools = await assistant_tools(config(SUITE_STDIO, time_server), settings)
    assert {"add", "get_current_time", "convert_time"} <= {t.name for t in tools}
    box = toolbox_of(tools)
    assert await call(box, "add", a=40, b=2) == ({"result": 42}, False)
    result, is_error = await call(box, "get_current_time", timezone="Europe/Paris")
    assert not is_error and result["timezone"] == "Europe/Paris"
    result, is_error = await call(box, "get_current_time", timezone="Mars/Olympus")
    assert is_error and "Mars/Olympus" in result["detail"]
