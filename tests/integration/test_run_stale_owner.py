"""A replica that lost its run's lease does not end the run another replica took over.

Two executors share one database: A drives a run and stops renewing its lease (its heartbeat is
an hour apart here, as a replica stuck in a long pause would be); B, the app's executor, sweeps
the run, takes it over and calls the model again. Then A comes back and lets
the run go (it shuts down: it ends its runs `interrupted`). The run is B's now: A's end is
refused and dropped, logged, and the run goes on under B, which alone ends it.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from agent_service.conversations.models import Conversation
from agent_service.llm.messages import ChatMessage
from agent_service.runs.executor import RunExecutor
from agent_service.runs.models import Run
from agent_service.runs.notifier import build_notifier
from agent_service.settings import Settings
from agent_testkit import FakeLLM, parse_sse
from tests.conftest import use_fake_llm
from tests.factories import TestUser
from tests.integration.test_runs_faults_outage import get, logged


@pytest.fixture
def settings(settings: Settings, fake_llm: FakeLLM) -> Settings:
    settings.run_heartbeat_s = 3600.0  # no heartbeat renews a lease, no sweep runs by itself
    settings.run_lease_s = 0.05
    settings.run_poll_s = 0.2
    return use_fake_llm(settings, fake_llm.base_url)


async def until(check: Any, what: str, *, timeout_s: float = 10.0) -> Any:
    """Await `check()` until it gives something true (the deadline fails the test)."""
    deadline = time.monotonic() + timeout_s
    while not (value := await check()):
        assert time.monotonic() < deadline, f"never {what}"
        await asyncio.sleep(0.02)
    return value


async def start_on(
    executor: RunExecutor, app: FastAPI, conversation_id: str, text: str
) -> uuid.UUID:
    """A turn of the conversation, driven by `executor` (another replica than the app's)."""
    async with app.state.sessionmaker() as session:
        conversation = await session.get(Conversation, uuid.UUID(conversation_id))
        assert conversation is not None
        run = await executor.start_run(
            session, conversation, [ChatMessage("user", text)], stream=True
        )
        return run.id


async def test_a_replica_back_after_a_takeover_does_not_end_the_run(
    app: FastAPI,
    settings: Settings,
    client: httpx.AsyncClient,
    user: TestUser,
    fake_llm: FakeLLM,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="agent_service.runs")
    fake_llm.script(
        fake_llm.timeout(),  # A's model call: A stops renewing while it waits
        fake_llm.timeout(),  # B's, from the run's last committed step
        fake_llm.reply("Next turn."),
    )
    r = await client.post(
        "/api/conversations", json={"agent_type": "assistant"}, headers=user.headers
    )
    conversation_id = r.json()["id"]
    replica_b = app.state.runs
    replica_a = RunExecutor(
        settings,
        app.state.sessionmaker,
        app.state.llm,
        build_notifier(settings.resolved_database_url),
    )
    await replica_a.start()
    try:
        run_id = await start_on(replica_a, app, conversation_id, "Hi")
        await until(lambda: called(fake_llm, 1), "A called the model")
        # A's lease runs out: B takes the run over and calls the model again
        await until(lambda: replica_b.sweep(at_startup=False), "swept by B")
        await until(lambda: called(fake_llm, 2), "B called the model")
    finally:
        await replica_a.stop()  # A comes back and lets its run go: its end is refused

    row = await run_row(app, run_id)
    assert (row.status, row.owner, row.error) == ("running", replica_b.owner, None)  # was
    # `interrupted` by A, and B's answer would have been dropped
    await logged(caplog, "its end (interrupted) is dropped")

    settings.run_lease_s = 60.0  # B's lease holds now: B, not the route, ends the run
    r = await client.post(f"/api/runs/{run_id}/cancel", headers=user.headers)
    assert r.json()["status"] == "cancelled", r.text  # B drives it: B ends it
    r = await client.get(f"/api/runs/{run_id}/events", headers=user.headers)
    errors = [e.json()["error"] for e in parse_sse(r.text) if e.event == "error"]
    assert errors == ["run_cancelled"]  # one end only, B's
    body = {"message": "Again", "conversation_id": conversation_id}
    r = await client.post("/api/agent/chat", json=body, headers=user.headers)
    assert r.json()["response"] == "Next turn.", r.text
    history = await get(client, user, f"/api/conversations/{conversation_id}/history")
    assert [m["content"] for m in history["messages"]] == ["Hi", "Again", "Next turn."]


async def called(fake_llm: FakeLLM, times: int) -> bool:
    return len(fake_llm.calls) == times


async def run_row(app: FastAPI, run_id: uuid.UUID) -> Run:
    async with app.state.sessionmaker() as session:
        run = await session.get(Run, run_id)
        assert run is not None
        return run
