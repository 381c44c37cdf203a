"""The heartbeat proves progress: a run whose end cannot commit is no longer renewed, a cancel
ends it although its owner is stuck, and once its lease runs out a sweep ends it (here the
owner's own heartbeat does, as any replica's would).

The stuck write is the database's own refusal (a trigger refusing the answer's message), retried
for longer than the test lasts, so the owner stays stuck while the database answers others.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from agent_service.runs.models import Run
from agent_service.settings import Settings
from agent_testkit import FakeLLM, RecordedCall
from agent_testkit.fake_llm.script import ScriptItem
from tests.conftest import use_fake_llm
from tests.database import inserts_refused
from tests.factories import TestUser
from tests.faults import SqliteLockHolder, sqlite_path
from tests.integration.test_runs_faults_outage import assert_valid_history, get, logged

ANSWER = "An answer the database refuses."


@pytest.fixture
def settings(settings: Settings, fake_llm: FakeLLM) -> Settings:
    settings.run_heartbeat_s = 0.1
    settings.run_final_store_s = 60.0  # the owner keeps trying for longer than the test
    settings.run_poll_s = 0.2
    settings.sqlite_busy_timeout_ms = 50  # another process's SQLite lock fails a write at once
    return use_fake_llm(settings, fake_llm.base_url)


@asynccontextmanager
async def stuck_run(
    app: FastAPI,
    client: httpx.AsyncClient,
    user: TestUser,
    fake_llm: FakeLLM,
    caplog: pytest.LogCaptureFixture,
) -> AsyncIterator[tuple[str, asyncio.Task[httpx.Response]]]:
    """A run whose answer the database refuses to store: its owner retries, stuck."""
    caplog.set_level(logging.INFO, logger="agent_service.runs")
    fake_llm.script(fake_llm.reply(ANSWER))
    refused = f"NEW.role = 'assistant' AND NEW.content = '{ANSWER}'"
    async with inserts_refused(app.state.engine, "message", when=refused):
        chat = asyncio.create_task(
            client.post("/api/agent/chat", json={"message": "Hi"}, headers=user.headers)
        )
        await logged(caplog, "could not store the answer")
        [run_id] = [str(i) for i in app.state.runs.host.stalled]
        yield run_id, chat


async def heartbeat_of(app: FastAPI, run_id: str) -> datetime | None:
    async with app.state.sessionmaker() as session:
        beat: datetime | None = await session.scalar(
            select(Run.heartbeat_at).where(Run.id == uuid.UUID(run_id))
        )
        return beat


async def test_a_stuck_run_is_not_renewed_and_a_cancel_ends_it(
    app: FastAPI,
    client: httpx.AsyncClient,
    user: TestUser,
    fake_llm: FakeLLM,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with stuck_run(app, client, user, fake_llm, caplog) as (run_id, chat):
        renewed_last = await heartbeat_of(app, run_id)
        await asyncio.sleep(0.6)  # six heartbeats
        assert await heartbeat_of(app, run_id) == renewed_last
        run = await get(client, user, f"/api/runs/{run_id}")
        assert run["status"] == "running"

        r = await client.post(f"/api/runs/{run_id}/cancel", headers=user.headers)
        assert r.status_code == 202, r.text
        run = await get(client, user, f"/api/runs/{run_id}")
        assert run["status"] == "cancelled", run  # at once: its owner did not have to
        r = await asyncio.wait_for(chat, timeout=10)  # the owner lets go at its next attempt

    assert r.status_code == 409, r.text
    assert r.json()["error"] == "run_cancelled"
    history = await get(client, user, f"/api/conversations/{run['conversation_id']}/history")
    assert [m["content"] for m in history["messages"]] == ["Hi"]
    assert app.state.runs.host.stalled == set()


async def test_a_stuck_run_is_swept_when_its_lease_runs_out(
    app: FastAPI,
    settings: Settings,
    client: httpx.AsyncClient,
    user: TestUser,
    fake_llm: FakeLLM,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings.run_lease_s = 0.5
    async with stuck_run(app, client, user, fake_llm, caplog) as (run_id, chat):
        deadline = time.monotonic() + 5
        run: dict[str, Any] = {}
        while run.get("status") != "interrupted":
            assert time.monotonic() < deadline, run
            run = await get(client, user, f"/api/runs/{run_id}")
            await asyncio.sleep(0.05)
        r = await asyncio.wait_for(chat, timeout=10)

    assert r.status_code == 503, r.text
    assert r.json()["error"] == "run_interrupted"
    history = await get(client, user, f"/api/conversations/{run['conversation_id']}/history")
    assert_valid_history(history["messages"])
    fake_llm.script(fake_llm.reply("Fine again."))
    body = {"message": "Again", "conversation_id": run["conversation_id"]}
    r = await client.post("/api/agent/chat", json=body, headers=user.headers)
    assert r.status_code == 200, r.text


@pytest.fixture
def quiet_heartbeat(settings: Settings) -> None:
    """No heartbeat write open when a model callback takes SQLite's lock: the callback blocks the
    event loop, so a write the app had begun could not commit, and the lock would never come."""
    settings.run_heartbeat_s = 3600.0


@pytest.mark.usefixtures("quiet_heartbeat")
async def test_a_cancel_while_the_end_waits_for_the_database_keeps_the_answer(
    app: FastAPI,
    settings: Settings,
    client: httpx.AsyncClient,
    user: TestUser,
    fake_llm: FakeLLM,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The end waits for a database that was away (another process held SQLite's write lock);
    a cancel that the database takes once it is back, before the end's next attempt, does not
    end the run `cancelled`: the answer, already made, is stored and the run completes."""
    if not settings.resolved_database_url.startswith("sqlite"):
        pytest.skip("another process holding SQLite's write lock")
    caplog.set_level(logging.INFO, logger="agent_service.runs")
    holder = SqliteLockHolder(sqlite_path(settings.resolved_database_url))

    def lock_then_answer(call: RecordedCall) -> ScriptItem:
        holder.take()  # the answer is made while the database cannot take it
        return FakeLLM.reply(ANSWER)

    fake_llm.script(fake_llm.respond(lock_then_answer))
    try:
        chat = asyncio.create_task(
            client.post("/api/agent/chat", json={"message": "Hi"}, headers=user.headers)
        )
        # logged as the fifth attempt starts; it fails within the 50 ms busy timeout, and the
        # end then waits 1.6 s before the sixth: the cancel below comes in that wait
        await logged(caplog, "(attempt 4,")
        await asyncio.sleep(0.3)
        [run_id] = [str(i) for i in app.state.runs.host.stalled]
        assert app.state.runs.host.refused == set()  # the database was away, it refused nothing
    finally:
        holder.release()
    r = await client.post(f"/api/runs/{run_id}/cancel", headers=user.headers)
    assert r.status_code == 202, r.text

    r = await asyncio.wait_for(chat, timeout=10)
    assert r.status_code == 200, r.text
    assert r.json()["response"] == ANSWER
    run = await get(client, user, f"/api/runs/{run_id}")
    assert run["status"] == "completed", run
    history = await get(client, user, f"/api/conversations/{run['conversation_id']}/history")
    assert [m["content"] for m in history["messages"]] == ["Hi", ANSWER]
    assert app.state.runs.host.stalled == set()


@pytest.mark.usefixtures("quiet_heartbeat")
async def test_a_cancel_while_a_failed_runs_end_waits_for_the_database_keeps_the_failure(
    app: FastAPI,
    settings: Settings,
    client: httpx.AsyncClient,
    user: TestUser,
    fake_llm: FakeLLM,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The same for a run whose model failed: its end (`failed`, the provider's error) waits for
    the database, and a cancel the database takes before the end's next attempt does not turn
    it into `cancelled`. The end is written shielded: the failure is what happened."""
    if not settings.resolved_database_url.startswith("sqlite"):
        pytest.skip("another process holding SQLite's write lock")
    caplog.set_level(logging.INFO, logger="agent_service.runs")
    settings.llm_max_retries = 0
    holder = SqliteLockHolder(sqlite_path(settings.resolved_database_url))

    def lock_then_fail(call: RecordedCall) -> ScriptItem:
        holder.take()  # the model fails while the database cannot take the end
        return FakeLLM.server_error(500)

    fake_llm.script(fake_llm.respond(lock_then_fail))
    try:
        chat = asyncio.create_task(
            client.post("/api/agent/chat", json={"message": "Hi"}, headers=user.headers)
        )
        # as in the test above: the cancel below comes in the end's 1.6 s wait
        await logged(caplog, "could not record the end of run")
        await logged(caplog, "(attempt 4,")
        await asyncio.sleep(0.3)
        [run_id] = [str(i) for i in app.state.runs.host.stalled]
    finally:
        holder.release()
    r = await client.post(f"/api/runs/{run_id}/cancel", headers=user.headers)
    assert r.status_code == 202, r.text

    r = await asyncio.wait_for(chat, timeout=10)
    assert (r.status_code, r.json()["error"]) == (503, "llm_unavailable"), r.text
    run = await get(client, user, f"/api/runs/{run_id}")
    assert run["status"] == "failed", run
    assert run["error"]["error"] == r.json()["error"]
    assert app.state.runs.host.stalled == set()
