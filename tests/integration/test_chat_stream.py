"""Streamed chat (SSE): deltas, tool events, completion, errors after the stream started,
heartbeats, and a client that goes away cancelling the turn and its upstream call."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from agent_service.settings import Settings
from agent_testkit import FakeLLM, SSEEvent, parse_sse
from tests.conftest import use_fake_llm
from tests.factories import TestUser

pytestmark = pytest.mark.usefixtures("llm_waits")


@pytest.fixture
def settings(settings: Settings, fake_llm: FakeLLM) -> Settings:
    return use_fake_llm(settings, fake_llm.base_url)


async def stream(
    client: httpx.AsyncClient, user: TestUser, path: str = "/api/agent/chat/stream", **body: Any
) -> tuple[httpx.Response, list[SSEEvent]]:
    """POST a streamed turn; its events after `run.created` (checked: first, ids 1, 2, ...)."""
    r = await client.post(path, json=body or {"message": "Hi"}, headers=user.headers)
    events = parse_sse(r.text)
    if r.status_code == 200:
        assert events[0].event == "run.created"
        assert events[0].json()["run_id"] == r.headers["X-Run-Id"]
        assert [e.id for e in events] == [str(seq) for seq in range(1, len(events) + 1)]
    return r, events[1:]


def names(events: list[SSEEvent]) -> list[str]:
    return [e.event for e in events]


async def test_deltas_then_completed(
    client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM
) -> None:
    fake_llm.script(fake_llm.reply("Hello there, how can I help?"))
    r, events = await stream(client, user, message="Hi")

    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/event-stream")
    assert set(names(events[:-1])) == {"message.delta"} and len(events) >= 2
    assert "".join(e.json()["delta"] for e in events[:-1]) == "Hello there, how can I help?"
    done = events[-1]
    assert done.event == "message.completed"
    body = done.json()
    assert body["response"] == "Hello there, how can I help?"
    assert body["usage"]["completion_tokens"] > 0 and body["usage"]["prompt_tokens"] > 0
    assert fake_llm.calls[0].stream is True

    r = await client.get(
        f"/api/conversations/{body['conversation_id']}/history", headers=user.headers
    )
    last = r.json()["messages"][-1]
    assert (last["id"], last["role"], last["content"]) == (
        body["message_id"],
        "assistant",
        "Hello there, how can I help?",
    )


async def test_tool_call_and_result_events(
    client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM
) -> None:
    fake_llm.script(
        fake_llm.tool_call("create_task", title="Stream me", priority="low"),
        fake_llm.reply("Created."),
    )
    _, events = await stream(client, user, message="Add it")

    assert names(events)[:2] == ["tool.call", "tool.result"]
    call, result = events[0].json(), events[1].json()
    assert call["name"] == "create_task" and call["arguments"]["title"] == "Stream me"
    assert result["id"] == call["id"] and result["is_error"] is False
    assert result["result"]["task"]["title"] == "Stream me"
    assert names(events)[-1] == "message.completed"
    assert events[-1].json()["response"] == "Created."
    tasks = (await client.get("/api/tasks", headers=user.headers)).json()
    assert [t["id"] for t in tasks] == [result["result"]["task"]["id"]]
    assert fake_llm.calls[1].tool_result(call["id"])


async def test_agents_stream_route(
    client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM
) -> None:
    fake_llm.script(fake_llm.reply("def f(): pass"))
    r, events = await stream(
        client,
        user,
        "/api/agents/coder/chat/stream",
        messages=[{"role": "user", "content": "A function, please"}],
    )
    assert r.status_code == 200 and names(events)[-1] == "message.completed"
    conversation_id = events[-1].json()["conversation_id"]
    r = await client.get(f"/api/conversations/{conversation_id}", headers=user.headers)
    assert r.json()["agent_type"] == "coder"


async def test_error_mid_stream_is_an_error_event(
    client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM
) -> None:
    fake_llm.script(fake_llm.cut_stream(after=3))
    r, events = await stream(client, user)

    assert r.status_code == 200  # the status was sent before the upstream failed
    assert "message.delta" in names(events)
    assert events[-1].event == "error"
    assert events[-1].json()["error"] == "llm_unavailable" and events[-1].json()["detail"]


async def test_malformed_stream_is_an_error_event(
    client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM
) -> None:
    fake_llm.script(fake_llm.malformed_sse())
    _, events = await stream(client, user)
    assert events[-1].json() == {
        "error": "llm_bad_response",
        "detail": events[-1].json()["detail"],
    }


async def test_failure_opening_the_stream_after_retries_is_an_error_event(
    client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM, llm_waits: list[float]
) -> None:
    fake_llm.script(*[fake_llm.rate_limited(retry_after=1)] * 3)
    r, events = await stream(client, user)
    assert r.status_code == 200
    assert names(events) == ["error"] and events[0].json()["error"] == "llm_rate_limited"
    assert llm_waits == [1, 1]


async def test_after_a_stream_error_the_next_message_continues(
    client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM
) -> None:
    fake_llm.script(
        fake_llm.tool_call("create_task", title="kept"),
        fake_llm.cut_stream(after=2),
        fake_llm.reply("Continuing."),
    )
    _, events = await stream(client, user, message="go")
    assert names(events)[:2] == ["tool.call", "tool.result"] and events[-1].event == "error"
    _, events = await stream(client, user, message="again")
    assert events[-1].event == "message.completed"
    roles = [m["role"] for m in fake_llm.calls[2].messages]
    assert roles == ["system", "user", "assistant", "tool", "user"]


async def test_heartbeats_while_the_model_is_slow_then_timeout_event(
    client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM, settings: Settings
) -> None:
    settings.sse_heartbeat_s = 0.02
    settings.llm_timeout_s = 0.3
    settings.llm_max_retries = 0
    fake_llm.script(fake_llm.timeout())
    r = await client.post("/api/agent/chat/stream", json={"message": "hi"}, headers=user.headers)

    comments = [line for line in r.text.splitlines() if line.startswith(":")]
    assert len(comments) >= 3 and all("heartbeat" in c for c in comments)
    events = parse_sse(r.text)
    assert names(events) == ["run.created", "error"] and events[1].json()["error"] == "llm_timeout"


async def test_errors_before_the_stream_starts_are_plain_json(
    client: httpx.AsyncClient, user: TestUser
) -> None:
    r = await client.post(
        "/api/agent/chat/stream",
        json={"message": "x", "conversation_id": "missing"},
        headers=user.headers,
    )
    assert r.status_code == 404 and r.json()["error"] == "conversation_not_found"
    r = await client.post("/api/agent/chat/stream", json={"message": ""}, headers=user.headers)
    assert r.status_code == 422
    r = await client.post(
        "/api/agents/nobody/chat/stream",
        json={"messages": [{"role": "user", "content": "x"}]},
        headers=user.headers,
    )
    assert r.status_code == 404 and r.json()["error"] == "agent_type_not_found"
    assert (await client.post("/api/agent/chat/stream", json={"message": "x"})).status_code == 401


async def test_client_disconnect_cancels_the_turn_and_its_upstream_call(
    app: FastAPI, client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM, settings: Settings
) -> None:
    settings.sse_heartbeat_s = 0.02
    settings.llm_timeout_s = 5.0
    settings.llm_max_retries = 0
    fake_llm.script(
        fake_llm.tool_call("create_task", title="before the hang"),
        fake_llm.timeout(),  # the model stalls; the client gives up
    )
    started = time.monotonic()
    chunks = await post_and_disconnect(
        app,
        "/api/agent/chat/stream",
        {"message": "slow", "on_disconnect": "cancel"},
        user.headers,
        # Once the tool step is out and the model has stalled long enough for a heartbeat.
        disconnect_when=lambda sent: b": heartbeat" in sent.partition(b"event: tool.result")[2],
    )
    elapsed = time.monotonic() - started

    # waiting for the upstream would take its whole 5 s timeout
    assert elapsed < settings.llm_timeout_s, (
        "the app waited for the upstream instead of cancelling it"
    )
    events = parse_sse(b"".join(chunks).decode())
    assert names(events) == ["run.created", "tool.call", "tool.result"]
    assert len(fake_llm.calls) == 2
    run = await wait_for_run(client, user, events[0].json()["run_id"])
    assert run["status"] == "cancelled"
    conversation_id = (await client.get("/api/conversations", headers=user.headers)).json()[0]["id"]
    r = await client.get(f"/api/conversations/{conversation_id}/history", headers=user.headers)
    assert [m["role"] for m in r.json()["messages"]] == ["user", "assistant", "tool"]


async def test_disconnect_before_the_first_step_keeps_the_users_message(
    app: FastAPI, client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM, settings: Settings
) -> None:
    settings.sse_heartbeat_s = 0.02
    settings.llm_max_retries = 0
    fake_llm.script(fake_llm.timeout())
    chunks = await post_and_disconnect(
        app,
        "/api/agent/chat/stream",
        {"message": "are you there?", "on_disconnect": "cancel"},
        user.headers,
        # Once the model was asked (and stalls): the user's message was stored before that.
        disconnect_when=lambda sent: (
            bool(fake_llm.calls) and b": heartbeat" in sent.partition(b"event: run.created")[2]
        ),
    )
    created = parse_sse(b"".join(chunks).decode())[0]
    assert (await wait_for_run(client, user, created.json()["run_id"]))["status"] == "cancelled"
    [conversation] = (await client.get("/api/conversations", headers=user.headers)).json()
    r = await client.get(f"/api/conversations/{conversation['id']}/history", headers=user.headers)
    assert [(m["role"], m["content"]) for m in r.json()["messages"]] == [("user", "are you there?")]


async def wait_for_run(
    client: httpx.AsyncClient, user: TestUser, run_id: str, *, timeout_s: float = 5.0
) -> dict[str, Any]:
    """Poll GET /api/runs/{id} until the run has ended (or paused for an approval)."""
    deadline = time.monotonic() + timeout_s
    while True:
        r = await client.get(f"/api/runs/{run_id}", headers=user.headers)
        assert r.status_code == 200, r.text
        run: dict[str, Any] = r.json()
        if run["status"] not in ("queued", "running") or time.monotonic() > deadline:
            return run
        await asyncio.sleep(0.02)


async def post_and_disconnect(
    app: FastAPI,
    path: str,
    body: dict[str, Any],
    headers: dict[str, str],
    *,
    disconnect_when: Callable[[bytes], bool],
) -> list[bytes]:
    """POST through the ASGI interface and go away once `disconnect_when(body so far)` holds.

    httpx's ASGITransport buffers the whole response and never disconnects, so this plays the
    client directly: it is what a browser closing an EventSource does to the app.
    """
    gone = asyncio.Event()
    chunks: list[bytes] = []
    request_sent = False

    async def receive() -> dict[str, Any]:
        nonlocal request_sent
        if not request_sent:
            request_sent = True
            return {"type": "http.request", "body": json.dumps(body).encode(), "more_body": False}
        await gone.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))
            if disconnect_when(b"".join(chunks)):
                gone.set()

    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"content-type", b"application/json"),
            *((k.lower().encode(), v.encode()) for k, v in headers.items()),
        ],
        "client": ("127.0.0.1", 1234),
        "server": ("testserver", 80),
        "state": {},
    }
    await asyncio.wait_for(app(scope, receive, send), timeout=10)
    return chunks
