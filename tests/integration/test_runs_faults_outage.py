"""A run always ends, whatever the database does: an outage mid-turn, mid-stream or during the
final write leaves the run in a final status once the database is back, with its answer kept, its
history valid, its tools' effects committed once, a live stream that follows it to the end, and
a conversation that takes the next turn.

The outage begins the moment the model is called (`fake_llm.respond`), so it is in the middle of
the turn by construction. PostgreSQL: the fault proxy cuts every connection and refuses new ones
(a restart). SQLite: another writer holds the file's write lock (what a second process does).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from agent_service.settings import Settings
from agent_testkit import FakeLLM, parse_sse
from agent_testkit.fake_llm.script import ScriptItem
from tests.conftest import use_fake_llm
from tests.factories import TestUser
from tests.faults import DatabaseProxy, sqlite_path

ANSWER = "The answer that outlived the outage."
FINAL_STORE_S = 0.5  # how long an error the database gives itself is retried
OUTAGE_S = 1.5  # longer: an outage is retried until it ends


@pytest.fixture
def settings(settings: Settings, request: pytest.FixtureRequest, fake_llm: FakeLLM) -> Settings:
    settings.sqlite_busy_timeout_ms = 100
    settings.db_pool_timeout_s = 0.5
    settings.db_answer_timeout_s = 1.0
    settings.run_final_store_s = FINAL_STORE_S
    settings.run_poll_s = 0.2
    if settings.resolved_database_url.startswith("postgresql"):
        proxy: DatabaseProxy = request.getfixturevalue("db_proxy")
        settings.database_url = proxy.url(settings.resolved_database_url)
    return use_fake_llm(settings, fake_llm.base_url)


class Outage:
    """The database goes away (`begin`) and comes back (`end`): a cut proxy on PostgreSQL,
    another writer holding the write lock on SQLite."""

    def __init__(self, settings: Settings, request: pytest.FixtureRequest) -> None:
        self.proxy: DatabaseProxy | None = None
        self.path = ""
        if settings.resolved_database_url.startswith("postgresql"):
            self.proxy = request.getfixturevalue("db_proxy")
        else:
            self.path = sqlite_path(settings.resolved_database_url)
        self.holder: sqlite3.Connection | None = None
        self.began = 0

    def begin(self) -> None:
        self.began += 1
        if self.proxy is not None:
            self.proxy.cut()
        else:
            self.holder = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self.holder.execute("BEGIN IMMEDIATE")

    def end(self) -> None:
        if self.proxy is not None:
            self.proxy.restore()
        elif self.holder is not None:
            self.holder.execute("ROLLBACK")
            self.holder.close()
            self.holder = None

    def then(self, fake_llm: FakeLLM, item: ScriptItem) -> ScriptItem:
        """A script item: when the model is called, the database goes away; then `item`."""

        def away(_call: Any) -> ScriptItem:
            self.begin()
            return item

        return fake_llm.respond(away)


@pytest.fixture
def outage(app: FastAPI, settings: Settings, request: pytest.FixtureRequest) -> Iterator[Outage]:
    """Ended before the app shuts down (its shutdown still writes)."""
    fault = Outage(settings, request)
    yield fault
    fault.end()


async def logged(
    caplog: pytest.LogCaptureFixture, text: str, *, times: int = 1, timeout_s: float = 10
) -> None:
    """Wait until `text` has been logged `times` times (the deadline fails the test)."""
    deadline = time.monotonic() + timeout_s
    while (seen := sum(text in r.getMessage() for r in caplog.records)) < times:
        assert time.monotonic() < deadline, f"logged {text!r} {seen} times, not {times}"
        await asyncio.sleep(0.02)


async def get(client: httpx.AsyncClient, user: TestUser, path: str) -> Any:
    r = await client.get(path, headers=user.headers)
    assert r.status_code == 200, r.text
    return r.json()


def assert_valid_history(messages: list[dict[str, Any]]) -> None:
    """Every tool call answered, every tool result answering a call: a history the model takes."""
    calls = [c["id"] for m in messages if m["role"] == "assistant" for c in m["tool_calls"] or ()]
    results = [m["tool_call_id"] for m in messages if m["role"] == "tool"]
    assert sorted(calls) == sorted(results), messages


async def next_turn_works(
    client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM, conversation_id: str
) -> None:
    fake_llm.script(fake_llm.reply("Back to normal."))
    body = {"message": "Still there?", "conversation_id": conversation_id}
    r = await client.post("/api/agent/chat", json=body, headers=user.headers)
    assert r.status_code == 200, r.text
    assert r.json()["response"] == "Back to normal."
    history = await get(client, user, f"/api/conversations/{conversation_id}/history")
    assert_valid_history(history["messages"])
    assert history["messages"][-1]["content"] == "Back to normal."


async def test_an_outage_during_the_final_write_keeps_the_answer_and_the_stream(
    client: httpx.AsyncClient,
    user: TestUser,
    fake_llm: FakeLLM,
    outage: Outage,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The answer streams while the database is away; its store is retried until it is back,
    and the live stream follows the run through the blip to `message.completed`."""
    caplog.set_level(logging.INFO, logger="agent_service.runs")
    fake_llm.script(outage.then(fake_llm, fake_llm.reply(ANSWER)))
    stream = asyncio.create_task(
        client.post("/api/agent/chat/stream", json={"message": "Hi"}, headers=user.headers)
    )
    await logged(caplog, "could not store the answer")
    await asyncio.sleep(OUTAGE_S)
    assert not stream.done()
    outage.end()
    r = await asyncio.wait_for(stream, timeout=15)

    assert r.status_code == 200, r.text
    events = parse_sse(r.text)
    assert [e.event for e in events if e.event == "error"] == []
    assert events[-1].event == "message.completed", events[-3:]
    assert "".join(e.json()["delta"] for e in events if e.event == "message.delta") == ANSWER
    assert [int(e.id or 0) for e in events] == list(range(1, len(events) + 1))
    run_id, conversation_id = r.headers["X-Run-Id"], events[0].json()["conversation_id"]
    run = await get(client, user, f"/api/runs/{run_id}")
    assert run["status"] == "completed", run
    history = await get(client, user, f"/api/conversations/{conversation_id}/history")
    assert [m["content"] for m in history["messages"]] == ["Hi", ANSWER]
    await next_turn_works(client, user, fake_llm, conversation_id)


async def test_an_outage_after_a_tool_step_completes_the_turn_with_the_effect_once(
    client: httpx.AsyncClient,
    user: TestUser,
    fake_llm: FakeLLM,
    outage: Outage,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="agent_service.runs")
    fake_llm.script(
        fake_llm.tool_call("create_task", title="Made before the outage"),
        outage.then(fake_llm, fake_llm.reply(ANSWER)),
    )
    chat = asyncio.create_task(
        client.post("/api/agent/chat", json={"message": "Make a task"}, headers=user.headers)
    )
    await logged(caplog, "could not store the answer")
    await asyncio.sleep(OUTAGE_S)
    outage.end()
    r = await asyncio.wait_for(chat, timeout=15)

    assert r.status_code == 200, r.text
    assert r.json()["response"] == ANSWER
    conversation_id = r.json()["conversation_id"]
    run = await get(client, user, f"/api/runs/{r.headers['X-Run-Id']}")
    assert run["status"] == "completed"
    tasks = await get(client, user, "/api/tasks")
    assert [t["title"] for t in tasks] == ["Made before the outage"]
    history = await get(client, user, f"/api/conversations/{conversation_id}/history")
    assert [m["role"] for m in history["messages"]] == ["user", "assistant", "tool", "assistant"]
    assert_valid_history(history["messages"])
    await next_turn_works(client, user, fake_llm, conversation_id)


async def test_an_outage_while_a_tool_step_commits_makes_the_step_again_once(
    client: httpx.AsyncClient,
    user: TestUser,
    fake_llm: FakeLLM,
    outage: Outage,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The step and its tool's insert roll back together; once the database is back the run goes
    on from its last committed step (the model asked again), so the task is made once, and the
    stream's events follow each other without a gap or a trace of the step that was lost."""
    caplog.set_level(logging.INFO, logger="agent_service.runs")
    fake_llm.script(
        outage.then(fake_llm, fake_llm.tool_call("create_task", title="Made once")),
        fake_llm.tool_call("create_task", title="Made once"),
        fake_llm.reply(ANSWER),
    )
    stream = asyncio.create_task(
        client.post("/api/agent/chat/stream", json={"message": "Make a task"}, headers=user.headers)
    )
    await logged(caplog, "run heartbeat failed")  # the database is away for everyone
    await asyncio.sleep(OUTAGE_S)
    assert not stream.done()
    outage.end()
    r = await asyncio.wait_for(stream, timeout=15)

    assert r.status_code == 200, r.text
    events = parse_sse(r.text)
    names = [e.event for e in events]
    assert names[:3] == ["run.created", "tool.call", "tool.result"], names
    assert set(names[3:-1]) == {"message.delta"} and names[-1] == "message.completed", names
    assert [int(e.id or 0) for e in events] == list(range(1, len(events) + 1))
    assert len(fake_llm.calls) == 3  # the lost step's model call was made again
    run = await get(client, user, f"/api/runs/{r.headers['X-Run-Id']}")
    assert run["status"] == "completed", run
    assert [t["title"] for t in await get(client, user, "/api/tasks")] == ["Made once"]
    conversation_id = run["conversation_id"]
    history = await get(client, user, f"/api/conversations/{conversation_id}/history")
    assert [m["role"] for m in history["messages"]] == ["user", "assistant", "tool", "assistant"]
    assert_valid_history(history["messages"])
    await next_turn_works(client, user, fake_llm, conversation_id)
