"""Runs through HTTP: the run resource, a stream that survives its client (replay after
Last-Event-ID), cancel and its latency, admission, session keys, ownership."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from agent_service.settings import Settings
from agent_testkit import FakeLLM, SSEEvent, parse_sse
from tests.conftest import use_fake_llm
from tests.database import statements_sent
from tests.factories import TestUser
from tests.integration.test_chat_stream import post_and_disconnect, wait_for_run

LONG_ANSWER = " ".join(f"word{i}" for i in range(60)) + "."


@pytest.fixture
def settings(settings: Settings, fake_llm: FakeLLM) -> Settings:
    settings = use_fake_llm(settings, fake_llm.base_url)
    settings.run_poll_s = 0.2
    return settings


async def new_conversation(client: httpx.AsyncClient, user: TestUser) -> str:
    r = await client.post(
        "/api/conversations", json={"agent_type": "assistant"}, headers=user.headers
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def run_of(client: httpx.AsyncClient, user: TestUser, conversation_id: str) -> dict[str, Any]:
    """The conversation's newest run, once there is one that is running."""
    deadline = time.monotonic() + 5
    while True:
        r = await client.get(f"/api/conversations/{conversation_id}/runs", headers=user.headers)
        assert r.status_code == 200, r.text
        runs = r.json()
        if (runs and runs[0]["status"] != "queued") or time.monotonic() > deadline:
            assert runs, "no run was created"
            return dict(runs[0])
        await asyncio.sleep(0.02)


async def until(condition: Callable[[], bool], *, timeout_s: float = 5.0) -> None:
    """Wait for `condition` (polled), failing the test after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        await asyncio.sleep(0.02)


async def events_of(
    client: httpx.AsyncClient, user: TestUser, run_id: str, *, after: str | None = None
) -> list[SSEEvent]:
    headers = {**user.headers, **({"Last-Event-ID": after} if after is not None else {})}
    r = await client.get(f"/api/runs/{run_id}/events", headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/event-stream")
    return parse_sse(r.text)


def deltas(events: list[SSEEvent]) -> str:
    return "".join(e.json()["delta"] for e in events if e.event == "message.delta")


def assert_strict_history(messages: list[dict[str, Any]]) -> None:
    """What a strict OpenAI-compatible server checks: every tool call has exactly one result."""
    results = [m["tool_call_id"] for m in messages if m["role"] == "tool"]
    calls = [c["id"] for m in messages if m["role"] == "assistant" for c in m["tool_calls"] or ()]
    assert sorted(results) == sorted(calls), (calls, results)


async def history(client: httpx.AsyncClient, user: TestUser, conversation_id: str) -> list[dict]:
    r = await client.get(f"/api/conversations/{conversation_id}/history", headers=user.headers)
    assert r.status_code == 200, r.text
    messages: list[dict] = r.json()["messages"]
    assert_strict_history(messages)
    return messages


async def test_a_json_turn_is_a_run(
    client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM
) -> None:
    fake_llm.script(fake_llm.tool_call("create_task", title="Ship"), fake_llm.reply("Done."))
    r = await client.post("/api/agent/chat", json={"message": "Add Ship"}, headers=user.headers)
    assert r.status_code == 200, r.text
    reply = r.json()
    assert r.headers["X-Run-Id"] == reply["run_id"] and reply["status"] == "completed"
    assert [c["name"] for c in reply["tool_calls"]] == ["create_task"]

    r = await client.get(f"/api/runs/{reply['run_id']}", headers=user.headers)
    run = r.json()
    assert (run["status"], run["conversation_id"], run["error"]) == (
        "completed",
        reply["conversation_id"],
        None,
    )
    assert run["usage"] == reply["usage"] and run["usage"]["total_tokens"] > 0
    assert run["finished_at"] and run["pending_tool_calls"] == []

    names = [e.event for e in await events_of(client, user, reply["run_id"])]
    assert names == ["run.created", "tool.call", "tool.result", "message.completed"]

    r = await client.get(
        f"/api/conversations/{reply['conversation_id']}/runs", headers=user.headers
    )
    assert [x["id"] for x in r.json()] == [reply["run_id"]]
    assert r.headers["X-Total-Count"] == "1"


async def test_another_users_run_is_404(
    client: httpx.AsyncClient, user: TestUser, other_user: TestUser, fake_llm: FakeLLM
) -> None:
    fake_llm.script(fake_llm.reply("Hi."))
    r = await client.post("/api/agent/chat", json={"message": "hi"}, headers=user.headers)
    run_id = r.json()["run_id"]
    for method, suffix, body in [
        ("GET", "", None),
        ("GET", "/events", None),
        ("POST", "/cancel", None),
        ("POST", "/resume", {"decisions": [{"tool_call_id": "x", "approve": True}]}),
    ]:
        r = await client.request(
            method, f"/api/runs/{run_id}{suffix}", json=body, headers=other_user.headers
        )
        assert r.status_code == 404 and r.json()["error"] == "run_not_found", (suffix, r.text)
    r = await client.get("/api/runs/not-a-run", headers=user.headers)
    assert r.status_code == 404
    r = await client.get(
        f"/api/conversations/{r.json() and (await new_conversation(client, user))}/runs",
        headers=other_user.headers,
    )
    assert r.status_code == 404


async def test_disconnect_mid_stream_then_resume_after_last_event_id(
    app: FastAPI, client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM
) -> None:
    fake_llm.script(
        fake_llm.tool_call("create_task", title="Replay me"),
        fake_llm.reply(LONG_ANSWER, chunk_delay=0.01),
    )
    started = time.monotonic()
    chunks = await post_and_disconnect(
        app,
        "/api/agent/chat/stream",
        {"message": "go"},
        user.headers,
        disconnect_when=lambda sent: sent.count(b"event: message.delta") >= 2,
    )
    first = parse_sse(b"".join(chunks).decode())
    assert first[0].event == "run.created"
    run_id = first[0].json()["run_id"]
    last_id = first[-1].id
    assert last_id is not None

    rest = await events_of(client, user, run_id, after=last_id)  # follows live to the end
    elapsed = time.monotonic() - started
    seen = first + rest
    ids = [int(e.id or 0) for e in seen]
    assert ids == list(range(1, len(seen) + 1)), "an event was lost or repeated"
    assert deltas(seen) == LONG_ANSWER
    completed = [e for e in seen if e.event == "message.completed"]
    assert len(completed) == 1 and completed[0].json()["response"] == LONG_ANSWER
    assert (await wait_for_run(client, user, run_id))["status"] == "completed"

    messages = await history(client, user, completed[0].json()["conversation_id"])
    assert [(m["role"], m["content"]) for m in messages if m["role"] != "tool"][-1] == (
        "assistant",
        LONG_ANSWER,
    )
    assert [m["role"] for m in messages] == ["user", "assistant", "tool", "assistant"]
    replay = await events_of(client, user, run_id)
    assert [(e.id, e.event, e.data) for e in replay] == [(e.id, e.event, e.data) for e in seen]
    print(
        f"\nreplay: {len(first)} events before the disconnect, {len(rest)} after "
        f"Last-Event-ID {last_id}; {sum(e.event == 'message.delta' for e in seen)} delta events "
        f"for {len(LONG_ANSWER.split())} model chunks; {len(LONG_ANSWER)} characters equal; "
        f"{elapsed:.2f} s"
    )


async def test_a_stream_is_never_more_than_a_batch_behind(
    client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM
) -> None:
    """Deltas are coalesced (fewer events than chunks), yet arrive while the model streams."""
    fake_llm.script(fake_llm.reply(LONG_ANSWER, chunk_delay=0.01))
    r = await client.post("/api/agent/chat/stream", json={"message": "go"}, headers=user.headers)
    events = parse_sse(r.text)
    delta_events = [e for e in events if e.event == "message.delta"]
    assert deltas(events) == LONG_ANSWER
    assert 2 <= len(delta_events) < len(LONG_ANSWER.split()), len(delta_events)


def runs_in_insert(statement: str, parameters: Any) -> set[str]:
    """The run ids of one INSERT of run events, however the driver is given its rows: one row or
    many (executemany), each a dict (numbered names when several rows share one statement) or a
    sequence with the columns repeated per row."""
    columns = [c.strip() for c in statement.split("(", 1)[1].split(")", 1)[0].split(",")]
    where, stride = columns.index("run_id"), len(columns)
    many = isinstance(parameters, list) and isinstance(parameters[0], dict | tuple | list)
    found = set()
    for row in parameters if many else [parameters]:
        if isinstance(row, dict):
            found |= {str(v) for k, v in row.items() if k.split("__")[0] == "run_id"}
        else:
            found |= {str(v) for v in list(row)[where::stride]}
    return found


async def test_the_streams_of_many_runs_share_their_batches(
    app: FastAPI, client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM
) -> None:
    """The process writes every run's buffered events in one transaction per interval: five
    answers streaming at once share INSERTs, and every stream still gets its whole answer."""
    streams = 5
    # a conversation each, made first: five runs at once, none queued behind another
    conversations = [await new_conversation(client, user) for _ in range(streams)]
    fake_llm.script(*(fake_llm.reply(LONG_ANSWER, chunk_delay=0.01) for _ in range(streams)))
    with statements_sent(app.state.engine) as sent:
        replies = await asyncio.gather(
            *(
                client.post(
                    "/api/agent/chat/stream",
                    json={"message": "go", "conversation_id": conversation_id},
                    headers=user.headers,
                )
                for conversation_id in conversations
            )
        )

    for reply in replies:
        assert deltas(parse_sse(reply.text)) == LONG_ANSWER, reply.text
    inserts = [runs_in_insert(st, p) for st, p in sent if st.startswith("INSERT INTO run_event")]
    assert len(set().union(*inserts)) == streams
    assert max(len(runs) for runs in inserts) > 1, inserts


async def test_the_process_driving_a_run_streams_its_events_from_memory(
    app: FastAPI, client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM, settings: Settings
) -> None:
    """Once the run's batches are in memory, its stream reads none of its rows: every batch comes
    from memory, and a wake-up that brings nothing new (on PostgreSQL, the echo of the batch's own
    notification) reads nothing. Counted from the second batch on (the first is published just
    after its commit); when every echo was read, PostgreSQL read the rows about ten times more."""
    # A poll that times out reads the rows by design; on a loaded machine 0.2 s between two
    # batches is common, so the poll is put out of reach: only wake-ups are counted here.
    settings.run_poll_s = 60.0
    fake_llm.script(fake_llm.reply(LONG_ANSWER, chunk_delay=0.01))
    with statements_sent(app.state.engine) as sent:
        async with asyncio.timeout(30):
            r = await client.post(
                "/api/agent/chat/stream", json={"message": "go"}, headers=user.headers
            )
    batches: list[str] = []
    reads_later: list[str] = []
    for statement, parameters in sent:
        if statement.startswith("INSERT INTO run_event") and "message.delta" in str(parameters):
            batches.append(statement)
        elif statement.startswith("SELECT") and "FROM run_event" in statement and len(batches) > 1:
            reads_later.append(statement)

    assert deltas(parse_sse(r.text)) == LONG_ANSWER
    assert len(batches) >= 3, "the answer did not take several batches"
    assert reads_later == []


async def test_cancel_closes_the_model_stream_within_a_second(
    client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM
) -> None:
    slow = " ".join(["token"] * 400)  # 400 chunks 50 ms apart: 20 s of streaming
    fake_llm.script(
        fake_llm.tool_call("create_task", title="kept"),
        fake_llm.reply(slow, chunk_delay=0.05),
    )
    conversation_id = await new_conversation(client, user)
    body = {"message": "go", "conversation_id": conversation_id}
    stream = asyncio.create_task(
        client.post("/api/agent/chat/stream", json=body, headers=user.headers)
    )
    run = await run_of(client, user, conversation_id)
    await until(lambda: len(fake_llm.calls) >= 2)  # the model is streaming its answer
    await asyncio.sleep(0.3)

    asked = time.monotonic()
    r = await client.post(f"/api/runs/{run['id']}/cancel", headers=user.headers)
    assert r.status_code == 202, r.text
    assert r.json()["status"] == "cancelled"  # the answer says what happened, not `running`
    ended = await wait_for_run(client, user, run["id"])
    latency = time.monotonic() - asked
    print(f"\ncancel latency: {latency * 1000:.0f} ms while the model streamed")
    assert ended["status"] == "cancelled"
    assert ended["error"]["error"] == "run_cancelled"

    events = parse_sse((await asyncio.wait_for(stream, 5)).text)
    assert events[-1].event == "error" and events[-1].json()["error"] == "run_cancelled"
    assert 0 < len(deltas(events)) < len(slow)
    messages = await history(client, user, conversation_id)
    assert [m["role"] for m in messages] == ["user", "assistant", "tool"]  # the step is kept
    tasks = (await client.get("/api/tasks", headers=user.headers)).json()
    assert [t["title"] for t in tasks] == ["kept"]

    fake_llm.script(fake_llm.reply("Back."))
    r = await client.post("/api/agent/chat", json=body, headers=user.headers)
    assert r.status_code == 200 and r.json()["response"] == "Back."


async def test_a_json_turn_whose_run_is_cancelled_is_409(
    client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM
) -> None:
    fake_llm.script(fake_llm.timeout())
    conversation_id = await new_conversation(client, user)
    body = {"message": "go", "conversation_id": conversation_id}
    turn = asyncio.create_task(client.post("/api/agent/chat", json=body, headers=user.headers))
    run = await run_of(client, user, conversation_id)
    await until(lambda: bool(fake_llm.calls))
    r = await client.post(f"/api/runs/{run['id']}/cancel", headers=user.headers)
    assert r.status_code == 202
    r = await asyncio.wait_for(turn, 5)
    assert r.status_code == 409 and r.json()["error"] == "run_cancelled"
    assert r.headers["X-Run-Id"] == run["id"]
    messages = await history(client, user, conversation_id)
    assert [(m["role"], m["content"]) for m in messages] == [("user", "go")]


@pytest.mark.parametrize(
    "path", ["/api/agent/chat", "/api/agent/chat/stream", "/api/agents/assistant/chat/stream"]
)
async def test_past_max_active_turns_a_new_turn_is_503_at_once(
    app: FastAPI,
    client: httpx.AsyncClient,
    user: TestUser,
    fake_llm: FakeLLM,
    settings: Settings,
    path: str,
) -> None:
    """Shed before anything else: no query, not even the token's user (a shed turn is cheap)."""
    settings.max_active_turns = 1
    fake_llm.script(fake_llm.timeout())
    conversation_id = await new_conversation(client, user)
    body = {"message": "go", "conversation_id": conversation_id}
    turn = asyncio.create_task(client.post("/api/agent/chat", json=body, headers=user.headers))
    run = await run_of(client, user, conversation_id)
    listed = {"messages": [{"role": "user", "content": "me too"}]}
    again = listed if "/agents/" in path else {"message": "me too"}
    with statements_sent(app.state.engine) as sent:
        r = await client.post(path, json=again, headers=user.headers)
    assert r.status_code == 503 and r.json()["error"] == "overloaded"
    assert r.headers["Retry-After"] == "1"  # answered while the turn still hangs: not queued
    assert sent == []

    await client.post(f"/api/runs/{run['id']}/cancel", headers=user.headers)
    assert (await asyncio.wait_for(turn, 5)).status_code == 409


async def test_session_id_is_the_clients_own_key(
    client: httpx.AsyncClient, user: TestUser, other_user: TestUser, fake_llm: FakeLLM
) -> None:
    fake_llm.script(fake_llm.reply("One."), fake_llm.reply("Two."), fake_llm.reply("Yours."))
    body = {"messages": [{"role": "user", "content": "hi"}], "session_id": "test-123"}
    first = await client.post("/api/agents/assistant/chat", json=body, headers=user.headers)
    again = await client.post("/api/agents/assistant/chat", json=body, headers=user.headers)
    other = await client.post("/api/agents/assistant/chat", json=body, headers=other_user.headers)
    assert [r.status_code for r in (first, again, other)] == [200, 200, 200]
    assert first.json()["conversation_id"] == again.json()["conversation_id"]
    assert other.json()["conversation_id"] != first.json()["conversation_id"]
    assert fake_llm.calls[1].messages[1:] == [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "One."},
        {"role": "user", "content": "hi"},
    ]
    r = await client.post(
        "/api/agents/assistant/chat",
        json={"messages": body["messages"], "conversation_id": "test-123"},
        headers=user.headers,
    )
    assert r.status_code == 404  # an unknown conversation_id stays 404


async def test_users_message_is_stored_before_the_model_answers(
    client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM
) -> None:
    fake_llm.script(fake_llm.timeout())
    conversation_id = await new_conversation(client, user)
    body = {"message": "remember this", "conversation_id": conversation_id}
    turn = asyncio.create_task(client.post("/api/agent/chat", json=body, headers=user.headers))
    run = await run_of(client, user, conversation_id)
    await until(lambda: bool(fake_llm.calls))
    messages = await history(client, user, conversation_id)
    assert [(m["role"], m["content"]) for m in messages] == [("user", "remember this")]
    await client.post(f"/api/runs/{run['id']}/cancel", headers=user.headers)
    await asyncio.wait_for(turn, 5)


async def test_last_event_id_must_be_a_number(
    client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM
) -> None:
    fake_llm.script(fake_llm.reply("Hi."))
    r = await client.post("/api/agent/chat", json={"message": "hi"}, headers=user.headers)
    r = await client.get(
        f"/api/runs/{r.json()['run_id']}/events",
        headers={**user.headers, "Last-Event-ID": "abc"},
    )
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"
