"""An assistant's MCP tools in real runs, through the kit's fake model: the suite's FastMCP server
over streamable HTTP with approval on one tool, and `mcp-server-time` from PyPI run unchanged
over stdio (an admin's assistant)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from agent_service.settings import Settings
from agent_service.toolsets import mcp_servers
from agent_testkit import FakeLLM
from tests.conftest import use_fake_llm
from tests.factories import TestUser
from tests.mcp_processes import mcp_http_server

AUTH = {"Authorization": "Bearer test-token"}


@pytest.fixture(scope="module")
def streamable_url() -> Iterator[str]:
    with mcp_http_server("streamable-http") as url:
        yield url


@pytest.fixture
def settings(settings: Settings, fake_llm: FakeLLM) -> Settings:
    mcp_servers._listings.clear()
    settings = use_fake_llm(settings, fake_llm.base_url)
    settings.run_poll_s = 0.2
    settings.mcp_allow_private = True  # the suite's servers listen on 127.0.0.1
    return settings


async def run_to_pause_or_end(
    client: httpx.AsyncClient, user: TestUser, assistant_id: str, text: str
) -> dict[str, Any]:
    body = {"assistant_id": assistant_id, "input": [{"role": "user", "content": text}]}
    r = await client.post("/api/runs", json=body, headers=user.headers)
    assert r.status_code == 202, r.text
    r = await client.get(f"/api/runs/{r.json()['id']}/wait?timeout_s=20", headers=user.headers)
    run: dict[str, Any] = r.json()
    return run


def tool_results(fake_llm: FakeLLM, call: int) -> list[Any]:
    messages = fake_llm.calls[call].request["messages"]
    return [json.loads(m["content"]) for m in messages if m["role"] == "tool"]


async def test_an_assistant_calls_an_mcp_servers_tools_with_approval_on_one(
    client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM, streamable_url: str
) -> None:
    tool = {
        "type": "mcp",
        "server_url": streamable_url,
        "headers": AUTH,
        "allowed_tools": ["add", "shout"],
        "require_approval": {"always": ["add"]},
    }
    r = await client.post(
        "/api/assistants", json={"name": "Calc", "tools": [tool]}, headers=user.headers
    )
    assistant_id = r.json()["id"]
    fake_llm.script(
        fake_llm.tool_call("shout", text="hello"),
        fake_llm.tool_call("add", a=2, b=3),
        fake_llm.reply("HELLO, and 2 + 3 = 5."),
    )
    run = await run_to_pause_or_end(client, user, assistant_id, "Shout hello, then add 2 and 3")
    assert run["status"] == "requires_action" and run["required_action"] is None  # an approval
    [pending] = run["pending_tool_calls"]
    assert pending["name"] == "add" and pending["arguments"] == {"a": 2, "b": 3}
    offered = {t["function"]["name"] for t in fake_llm.calls[0].request["tools"]}
    assert offered == {"add", "shout"}  # `fail` and `stall` are not allowed
    assert tool_results(fake_llm, 1) == [{"result": "HELLO"}]

    decision = {"decisions": [{"tool_call_id": pending["id"], "approve": True}]}
    r = await client.post(f"/api/runs/{run['id']}/resume", json=decision, headers=user.headers)
    assert r.status_code == 202, r.text
    r = await client.get(f"/api/runs/{run['id']}/wait?timeout_s=20", headers=user.headers)
    assert r.json()["status"] == "completed" and r.json()["output"] == "HELLO, and 2 + 3 = 5."
    assert tool_results(fake_llm, 2)[-1] == {"result": 5}


async def test_mcp_server_time_from_pypi_over_stdio(
    client: httpx.AsyncClient, admin: TestUser, user: TestUser, fake_llm: FakeLLM
) -> None:
    tool = {
        "type": "mcp_stdio",
        "command": sys.executable,
        "args": ["-m", "mcp_server_time", "--local-timezone", "UTC"],
    }
    body = {"name": "Clock", "tools": [tool]}
    r = await client.post("/api/assistants", json=body, headers=user.headers)
    assert r.status_code == 403  # a command on the server: admins only
    r = await client.post("/api/assistants", json=body, headers=admin.headers)
    assert r.status_code == 201, r.text
    fake_llm.script(
        fake_llm.tool_call("get_current_time", timezone="Europe/Paris"),
        fake_llm.reply("It is evening in Paris."),
    )
    run = await run_to_pause_or_end(client, admin, r.json()["id"], "Time in Paris?")
    assert run["status"] == "completed", run
    [result] = tool_results(fake_llm, 1)
    assert result["timezone"] == "Europe/Paris" and "datetime" in result


async def test_an_mcp_server_that_is_down_fails_the_run_clearly(
    client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM
) -> None:
    tool = {"type": "mcp", "server_url": "http://127.0.0.1:9/mcp"}
    r = await client.post(
        "/api/assistants", json={"name": "Down", "tools": [tool]}, headers=user.headers
    )
    run = await run_to_pause_or_end(client, user, r.json()["id"], "Hi")
    assert run["status"] == "failed" and run["error"]["error"] == "mcp_unavailable"


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:9/mcp", "http://169.254.169.254/mcp", "http://localhost:9/mcp"],
)
async def test_an_mcp_server_on_an_internal_address_is_refused(
    app: FastAPI, client: httpx.AsyncClient, user: TestUser, url: str
) -> None:
    app.state.settings.mcp_allow_private = False  # the default: no calls into our own network
    tool = {"type": "mcp", "server_url": url}
    r = await client.post(
        "/api/assistants", json={"name": "In", "tools": [tool]}, headers=user.headers
    )
    run = await run_to_pause_or_end(client, user, r.json()["id"], "Hi")
    assert run["status"] == "failed" and run["error"]["error"] == "mcp_target_refused"
    assert "private, loopback or link-local" in run["error"]["detail"]
