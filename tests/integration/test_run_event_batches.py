"""When a run's buffered events are written: a buffer that grows past `max_pending` is written
before the interval is up, a flush writes at once (and wakes the followers) unless a tool step is
open, and only the events of runs that are still their writer's go in."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from fastapi import FastAPI

from agent_service.runs import service as runs
from agent_service.runs.notifier import run_key
from agent_service.runs.writer import EventBatcher
from agent_service.settings import Settings
from agent_testkit import FakeLLM
from tests.conftest import use_fake_llm
from tests.factories import TestUser


@pytest.fixture
def settings(settings: Settings, fake_llm: FakeLLM) -> Settings:
    return use_fake_llm(settings, fake_llm.base_url)


async def a_finished_run(client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM) -> uuid.UUID:
    fake_llm.script(fake_llm.reply("Done."))
    r = await client.post("/api/agent/chat", json={"message": "hi"}, headers=user.headers)
    assert r.status_code == 200, r.text
    return uuid.UUID(r.json()["run_id"])


async def stored_after(app: FastAPI, run_id: uuid.UUID, seq: int) -> list[tuple[int, str]]:
    async with app.state.sessionmaker() as session:
        return [(r.seq, r.event) for r in await runs.read_events(session, run_id, seq)]


async def next_seq_of(app: FastAPI, run_id: uuid.UUID) -> int:
    async with app.state.sessionmaker() as session:
        return await runs.last_seq(session, run_id) + 1


async def test_a_full_buffer_is_written_before_the_interval(
    app: FastAPI, client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM
) -> None:
    run_id = await a_finished_run(client, user, fake_llm)
    seq = await next_seq_of(app, run_id)
    # an interval far longer than the test: only a full buffer gets a batch written
    batcher = EventBatcher(
        app.state.sessionmaker, app.state.runs.notifier, interval_s=600, max_pending=3
    )
    writer = batcher.writer(run_id, next_seq=seq, owner=None)  # finished: no owner
    batcher.register(writer)
    try:
        writer.add("tool.call", {"id": "call_1"})
        writer.add("message.delta", {"delta": "a"})
        writer.add("message.delta", {"delta": "b"})  # merged with the one before: two pending
        assert await stored_after(app, run_id, seq - 1) == []  # not due yet
        with app.state.runs.notifier.watch(run_key(run_id)) as woken:
            writer.add("tool.result", {"id": "call_1"})  # the third: due now
            await asyncio.wait_for(woken.wait(), timeout=10)
        assert await stored_after(app, run_id, seq - 1) == [
            (seq, "tool.call"),
            (seq + 1, "message.delta"),
            (seq + 2, "tool.result"),
        ]
    finally:
        batcher.unregister(writer)
        await batcher.aclose()


async def test_a_flush_waits_for_an_open_step_then_writes_and_wakes(
    app: FastAPI, client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM
) -> None:
    run_id = await a_finished_run(client, user, fake_llm)
    seq = await next_seq_of(app, run_id)
    batcher = EventBatcher(app.state.sessionmaker, app.state.runs.notifier, interval_s=600)
    writer = batcher.writer(run_id, next_seq=seq, owner=None)
    await writer.flush()  # nothing to write: nothing written
    writer.add("message.delta", {"delta": "before the tool"})
    writer.in_step = True  # a tool step's transaction is open on the run's session
    await writer.flush()
    assert await stored_after(app, run_id, seq - 1) == []
    assert not writer.batchable()

    writer.in_step = False
    assert writer.batchable()
    with app.state.runs.notifier.watch(run_key(run_id)) as woken:
        await writer.flush()
        assert woken.is_set()
    assert await stored_after(app, run_id, seq - 1) == [(seq, "message.delta")]
    assert writer.next_seq == seq + 1
    assert not writer.batchable()  # nothing left


async def test_a_batch_writes_only_the_runs_still_their_writers(
    app: FastAPI, client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM
) -> None:
    """Two runs in one batch: the one no process owns, written by a writer made for no owner,
    goes in; the one a writer made for some process's run (ended since) is dropped."""
    mine = await a_finished_run(client, user, fake_llm)
    lost = await a_finished_run(client, user, fake_llm)
    seq_mine, seq_lost = await next_seq_of(app, mine), await next_seq_of(app, lost)
    batcher = EventBatcher(app.state.sessionmaker, app.state.runs.notifier, interval_s=600)
    writers = [
        batcher.writer(mine, next_seq=seq_mine, owner=None),
        batcher.writer(lost, next_seq=seq_lost, owner="another-process"),
    ]
    for writer in writers:
        writer.add("tool.call", {"id": "call_1"})
        await writer.lock.acquire()
    try:
        assert await batcher.write(writers)  # the batch committed
    finally:
        for writer in writers:
            writer.lock.release()

    assert await stored_after(app, mine, seq_mine - 1) == [(seq_mine, "tool.call")]
    assert await stored_after(app, lost, seq_lost - 1) == []
    assert [w.dropping for w in writers] == [False, True]
    writers[1].add("tool.result", {"id": "call_1"})
    async with writers[1].lock:
        assert await batcher.write([writers[1]])  # still dropped, and not an error
    assert await stored_after(app, lost, seq_lost - 1) == []
