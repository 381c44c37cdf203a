"""The process's event batcher on a real database: a batch the database refuses goes back to its
buffer and is written by the next one, in order; its last write at close, and a close that does
not wait for a run that never stops (the shutdown would hang on it)."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from fastapi import FastAPI

from agent_service.runs import service as runs
from agent_service.runs.writer import EventBatcher
from agent_service.settings import Settings
from agent_testkit import FakeLLM
from tests.conftest import use_fake_llm
from tests.database import inserts_refused
from tests.factories import TestUser


@pytest.fixture
def settings(settings: Settings, fake_llm: FakeLLM) -> Settings:
    return use_fake_llm(settings, fake_llm.base_url)


async def a_finished_run(client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM) -> str:
    fake_llm.script(fake_llm.reply("Done."))
    r = await client.post("/api/agent/chat", json={"message": "hi"}, headers=user.headers)
    assert r.status_code == 200, r.text
    return str(r.json()["run_id"])


async def test_a_refused_batch_is_written_by_the_next_in_order(
    app: FastAPI, client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM
) -> None:
    run_id = uuid.UUID(await a_finished_run(client, user, fake_llm))
    engine, sessionmaker = app.state.engine, app.state.sessionmaker
    async with sessionmaker() as session:
        next_seq = await runs.last_seq(session, run_id) + 1
    batcher = EventBatcher(sessionmaker, app.state.runs.notifier, interval_s=600)
    writer = batcher.writer(run_id, next_seq=next_seq, owner=None)  # finished: no owner
    writer.add("message.delta", {"delta": "kept "})
    deltas_refused = inserts_refused(engine, "run_event", when="NEW.event = 'message.delta'")
    async with deltas_refused, writer.lock:
        assert not await batcher.write([writer])  # refused: back in the buffer
    writer.add("message.delta", {"delta": "and merged"})
    writer.add("tool.call", {"id": "call_1"})

    async with writer.lock:
        assert await batcher.write([writer])

    async with sessionmaker() as session:
        rows = await runs.read_events(session, run_id, next_seq - 1)
    assert [(r.seq, r.event, r.data) for r in rows] == [
        (next_seq, "message.delta", {"delta": "kept and merged"}),
        (next_seq + 1, "tool.call", {"id": "call_1"}),
    ]


async def test_close_writes_the_buffer_and_ends_with_a_run_still_registered(
    app: FastAPI, client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM
) -> None:
    run_id = uuid.UUID(await a_finished_run(client, user, fake_llm))
    sessionmaker = app.state.sessionmaker
    async with sessionmaker() as session:
        next_seq = await runs.last_seq(session, run_id) + 1
    # an interval far longer than the test: only the close writes
    batcher = EventBatcher(sessionmaker, app.state.runs.notifier, interval_s=600)
    writer = batcher.writer(run_id, next_seq=next_seq, owner=None)  # finished: no owner
    batcher.register(writer)  # and never unregistered: a run that would not stop
    writer.add("message.delta", {"delta": "kept at close"})

    await asyncio.wait_for(batcher.aclose(), timeout=10)

    async with sessionmaker() as session:
        rows = await runs.read_events(session, run_id, next_seq - 1)
    assert [(r.seq, r.event, r.data) for r in rows] == [
        (next_seq, "message.delta", {"delta": "kept at close"})
    ]
