"""A run that fails while the database is away still ends: its end (the text it streamed, the
repaired history, the `failed` status and its error) is retried until the database is back, and
then written whole, in order, once. Both databases (`Outage`: a cut proxy on PostgreSQL, another
writer holding the write lock on SQLite)."""

from __future__ import annotations

import asyncio
import logging
import time

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from agent_service.runs.models import RunEvent
from agent_service.settings import Settings
from agent_testkit import FakeLLM, parse_sse
from tests.factories import TestUser
from tests.integration.test_runs_faults_outage import (  # noqa: F401 - fixtures used by name
    OUTAGE_S,
    Outage,
    assert_valid_history,
    get,
    logged,
    next_turn_works,
    outage,
    settings,
)

WORDS = " ".join(f"word{n}" for n in range(40))


async def test_a_run_that_fails_during_an_outage_ends_failed_with_its_text_once_back(
    app: FastAPI,
    client: httpx.AsyncClient,
    user: TestUser,
    fake_llm: FakeLLM,
    outage: Outage,  # noqa: F811
    settings: Settings,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The model drops its stream after some text while the database is away: the run's end
    waits for it (`could not record the end of run`, retried), then the stream gets the text
    and the error, with ids that follow each other, and the conversation takes the next turn."""
    caplog.set_level(logging.INFO, logger="agent_service.runs")
    settings.llm_max_retries = 0
    fake_llm.script(
        outage.then(fake_llm, fake_llm.cut_stream(after=20, item=fake_llm.reply(WORDS)))
    )
    stream = asyncio.create_task(
        client.post("/api/agent/chat/stream", json={"message": "Hi"}, headers=user.headers)
    )
    await logged(caplog, "could not record the end of run")
    await asyncio.sleep(OUTAGE_S)
    assert not stream.done()
    outage.end()
    r = await asyncio.wait_for(stream, timeout=15)

    assert r.status_code == 200, r.text
    events = parse_sse(r.text)
    assert [int(e.id or 0) for e in events] == list(range(1, len(events) + 1))
    assert events[-1].event == "error", events[-3:]
    assert events[-1].json()["error"] == "llm_unavailable"
    streamed = "".join(e.json()["delta"] for e in events if e.event == "message.delta")
    assert streamed and WORDS.startswith(streamed)  # what the model sent before the cut
    run_id, conversation_id = r.headers["X-Run-Id"], events[0].json()["conversation_id"]
    run = await get(client, user, f"/api/runs/{run_id}")
    assert run["status"] == "failed", run
    assert app.state.runs.host.stalled == set()  # ended: no longer held back from its lease
    kept = parse_sse((await client.get(f"/api/runs/{run_id}/events", headers=user.headers)).text)
    assert [(e.id, e.event, e.data) for e in kept] == [(e.id, e.event, e.data) for e in events]
    history = await get(client, user, f"/api/conversations/{conversation_id}/history")
    assert_valid_history(history["messages"])
    await next_turn_works(client, user, fake_llm, conversation_id)


async def test_an_outage_after_the_answer_began_fails_the_run_busy_keeping_its_text(
    app: FastAPI,
    client: httpx.AsyncClient,
    user: TestUser,
    fake_llm: FakeLLM,
    outage: Outage,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Text, then a tool call, in one model answer: the text is stored, then the database goes
    away before the tool's step commits. Making the step again would start the answer over, so
    once the database is back the run fails `database_busy`, keeping the text it streamed and
    nothing of the step; the model is not asked again."""
    caplog.set_level(logging.INFO, logger="agent_service.runs")
    fake_llm.script(
        fake_llm.tool_calls(
            [("create_task", {"title": "Never made"})], content=TEXT, chunk_delay=0.2
        )
    )
    stream = asyncio.create_task(
        client.post("/api/agent/chat/stream", json={"message": "Make it"}, headers=user.headers)
    )
    await text_stored(app)
    outage.begin()  # while the tool call still streams
    await logged(caplog, "run heartbeat failed")  # the database is away for everyone
    await asyncio.sleep(OUTAGE_S)
    assert not stream.done()
    outage.end()
    r = await asyncio.wait_for(stream, timeout=15)

    assert r.status_code == 200, r.text
    events = parse_sse(r.text)
    assert [int(e.id or 0) for e in events] == list(range(1, len(events) + 1))
    names = [e.event for e in events]
    assert names[0] == "run.created" and set(names[1:-1]) == {"message.delta"}, names
    assert events[-1].event == "error" and events[-1].json()["error"] == "database_busy"
    streamed = "".join(e.json()["delta"] for e in events if e.event == "message.delta")
    assert streamed and TEXT.startswith(streamed)
    assert len(fake_llm.calls) == 1
    assert await get(client, user, "/api/tasks") == []
    run = await get(client, user, f"/api/runs/{r.headers['X-Run-Id']}")
    assert run["status"] == "failed", run
    history = await get(client, user, f"/api/conversations/{run['conversation_id']}/history")
    assert [m["role"] for m in history["messages"]] == ["user"]
    await next_turn_works(client, user, fake_llm, run["conversation_id"])


TEXT = "Let me add that task for you right now."


async def text_stored(app: FastAPI) -> None:
    """Until the run's first text is committed (by the event batcher)."""
    deadline = time.monotonic() + 10
    while True:
        async with app.state.sessionmaker() as session:
            found = await session.scalar(
                select(RunEvent.seq).where(RunEvent.event == "message.delta").limit(1)
            )
        if found is not None:
            return
        assert time.monotonic() < deadline, "no text was stored"
        await asyncio.sleep(0.02)
