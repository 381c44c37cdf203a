"""A tool whose write finds embedded SQLite locked by another process stops its step instead of
telling the model "nothing was changed" and reporting the turn done without its effect: the step is
rolled back and made again once the database takes writes (the model asked again), so the turn
ends done with its effect made once."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI

from agent_service.settings import Settings
from agent_testkit import FakeLLM, RecordedCall, parse_sse
from agent_testkit.fake_llm.script import ScriptItem
from tests.conftest import use_fake_llm
from tests.factories import TestUser
from tests.faults import SqliteLockHolder, sqlite_path
from tests.integration.test_run_takeover import called, has_delta, until


@pytest.fixture
def settings(settings: Settings, fake_llm: FakeLLM) -> Settings:
    if not settings.resolved_database_url.startswith("sqlite"):
        pytest.skip("SQLite's write lock only")
    settings.sqlite_busy_timeout_ms = 100
    return use_fake_llm(settings, fake_llm.base_url)


class ReleaseWhenLogged(logging.Handler):
    """Lets the lock go as soon as the service logs that it gave up on it (before the run's end is
    written, which needs the lock too)."""

    def __init__(self, holder: SqliteLockHolder, text: str) -> None:
        super().__init__()
        self.holder = holder
        self.text = text
        self.seen = 0

    def emit(self, record: logging.LogRecord) -> None:
        if self.text in record.getMessage():
            self.seen += 1
            self.holder.release()


@pytest.fixture
def lock_holder(settings: Settings) -> Iterator[SqliteLockHolder]:
    holder = SqliteLockHolder(sqlite_path(settings.resolved_database_url))
    released = ReleaseWhenLogged(holder, "tool create_task stopped its turn")
    logging.getLogger("agent_service").addHandler(released)
    try:
        yield holder
    finally:
        logging.getLogger("agent_service").removeHandler(released)
        holder.release()
    assert released.seen == 1


@pytest.mark.parametrize("route", ["/api/agent/chat", "/api/agent/chat/stream"])
async def test_a_tool_write_locked_by_another_process_is_made_again_once(
    client: httpx.AsyncClient,
    user: TestUser,
    fake_llm: FakeLLM,
    lock_holder: SqliteLockHolder,
    route: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def lock_then_call_tool(call: RecordedCall) -> ScriptItem:
        """The model asks for the tool; the file's write lock is taken before the tool runs."""
        lock_holder.take()
        return FakeLLM.tool_call("create_task", title="Pay the rent")

    fake_llm.script(
        fake_llm.respond(lock_then_call_tool),
        fake_llm.tool_call("create_task", title="Pay the rent"),  # the step, made again
        fake_llm.reply("Done: Pay the rent."),
    )
    r = await client.post(route, json={"message": "rent"}, headers=user.headers)

    assert not lock_holder.held
    assert r.status_code == 200, r.text
    if route.endswith("stream"):
        events = parse_sse(r.text)
        assert events[-1].event == "message.completed", r.text
        assert [e.event for e in events].count("tool.result") == 1  # the lost step left none
    else:
        assert r.json()["response"] == "Done: Pay the rent."
    # the model was never told the tool failed: the lost step was made again from the start
    assert len(fake_llm.calls) == 3
    assert [m["role"] for m in fake_llm.calls[1].messages] == ["system", "user"]
    tasks = (await client.get("/api/tasks", headers=user.headers)).json()
    assert [t["title"] for t in tasks] == ["Pay the rent"]  # made once
    again = "a step could not commit while the database was away; going on from its last"
    assert sum(again in r.getMessage() for r in caplog.records) == 1  # the operator is told


async def test_a_lost_step_whose_text_was_stored_fails_the_run_database_busy(
    app: FastAPI,
    client: httpx.AsyncClient,
    user: TestUser,
    fake_llm: FakeLLM,
    lock_holder: SqliteLockHolder,
) -> None:
    """The model said something before its tool call, and that text was stored; then the tool's
    write found the file locked and the step was lost. Made again, the answer would start over
    under a follower's eyes, so the run ends `failed` with `database_busy`, the task never made,
    the history without the lost step."""
    fake_llm.script(
        fake_llm.tool_calls(
            [("create_task", {"title": "Pay the rent"})], content="Adding it now. ", chunk_delay=0.3
        )
    )
    turn = asyncio.create_task(
        client.post("/api/agent/chat/stream", json={"message": "rent"}, headers=user.headers)
    )
    await until(lambda: called(fake_llm, 1), "the model called")
    [run_id] = list(app.state.runs.host.tasks)
    await until(lambda: has_delta(app, run_id), "stored the text before the tool call")
    lock_holder.take()  # before the tool call's chunks arrive

    r = await asyncio.wait_for(turn, timeout=30)

    events = parse_sse(r.text)
    assert events[-1].event == "error" and events[-1].json()["error"] == "database_busy", r.text
    assert not lock_holder.held
    run = (await client.get(f"/api/runs/{run_id}", headers=user.headers)).json()
    assert (run["status"], run["error"]["error"]) == ("failed", "database_busy"), run
    assert (await client.get("/api/tasks", headers=user.headers)).json() == []
    assert len(fake_llm.calls) == 1  # not made again


async def test_a_run_made_again_after_the_lock_keeps_its_lease_to_the_end(
    settings: Settings, client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM
) -> None:
    """The lock outlasts the tool's step, so the run waits to go on (stalled: its lease not
    renewed); once back, its heartbeat renews the lease again, and an answer that streams for
    three leases is not swept `interrupted` as a dead process's run would be."""
    settings.run_lease_s, settings.run_heartbeat_s = 1.0, 0.2
    holder = SqliteLockHolder(sqlite_path(settings.resolved_database_url))

    class ReleaseLater(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "tool create_task stopped its turn" in record.getMessage():
                threading.Timer(0.6, holder.release).start()  # past a few tries to go on

    def lock_then_call_tool(call: RecordedCall) -> ScriptItem:
        holder.take()
        return FakeLLM.tool_call("create_task", title="Pay the rent")

    fake_llm.script(
        fake_llm.respond(lock_then_call_tool),
        fake_llm.tool_call("create_task", title="Pay the rent"),
        fake_llm.reply(" ".join(["word"] * 12), chunk_delay=0.25),  # 3 s: three leases
    )
    released = ReleaseLater()
    logging.getLogger("agent_service").addHandler(released)
    try:
        r = await asyncio.wait_for(
            client.post("/api/agent/chat/stream", json={"message": "rent"}, headers=user.headers),
            timeout=30,
        )
    finally:
        logging.getLogger("agent_service").removeHandler(released)
        holder.release()

    events = parse_sse(r.text)
    assert events[-1].event == "message.completed", r.text
    tasks = (await client.get("/api/tasks", headers=user.headers)).json()
    assert [t["title"] for t in tasks] == ["Pay the rent"]
