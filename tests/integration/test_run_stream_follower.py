"""A live stream whose follower loses the database while the run goes on (here: every pooled
connection taken, so its reads time out as on a database that does not answer) reads the rows
again once it is back and follows the run to its end: a pause, not an `error database_busy`. Its
reads back off while it waits, its patience (RUN_FOLLOW_PATIENCE_S) starts over at each read that
succeeds, and past it the stream ends with `error database_busy`. Both databases."""

from __future__ import annotations

import asyncio
import logging

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from agent_service.settings import Settings
from agent_testkit import FakeLLM, parse_sse
from tests.conftest import use_fake_llm
from tests.factories import TestUser
from tests.integration.test_run_endings import logged as logged_count
from tests.integration.test_run_takeover import called, until
from tests.integration.test_runs_faults_outage import logged


@pytest.fixture
def settings(settings: Settings, fake_llm: FakeLLM) -> Settings:
    settings.db_pool_size = 3
    settings.db_max_overflow = 0
    settings.db_pool_timeout_s = 0.2
    settings.run_poll_s = 0.1
    use_fake_llm(settings, fake_llm.base_url)
    settings.llm_timeout_s = 60.0  # the model call hangs for the whole test
    return settings


async def take_every_connection(engine: AsyncEngine) -> list[AsyncConnection]:
    held: list[AsyncConnection] = []
    while True:
        try:
            connection = await engine.connect()
        except PoolTimeout:
            return held
        held.append(connection)
        await connection.execute(text("SELECT 1"))


async def test_a_follower_that_lost_the_database_follows_the_run_to_its_end(
    app: FastAPI,
    client: httpx.AsyncClient,
    user: TestUser,
    fake_llm: FakeLLM,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="agent_service.runs")
    fake_llm.script(fake_llm.timeout())
    stream = asyncio.create_task(
        client.post("/api/agent/chat/stream", json={"message": "Hi"}, headers=user.headers)
    )
    await until(lambda: called(fake_llm, 1), "the model called")
    [run_id] = list(app.state.runs.host.tasks)

    held = await take_every_connection(app.state.engine)
    try:
        await logged(caplog, "its follower lost the database; reading again")
    finally:
        for connection in held:
            await connection.close()
    r = await client.post(f"/api/runs/{run_id}/cancel", headers=user.headers)
    assert r.status_code == 202, r.text
    response = await asyncio.wait_for(stream, timeout=15)

    assert response.status_code == 200, response.text
    events = parse_sse(response.text)
    assert events[0].event == "run.created", events
    errors = [e.json()["error"] for e in events if e.event == "error"]
    assert errors == ["run_cancelled"], events  # the run's end, not the follower's trouble
    assert [int(e.id or 0) for e in events] == list(range(1, len(events) + 1))


LOST = "its follower lost the database; reading again"
BACK = "its follower reads the database again"


async def follow_a_hanging_run(
    app: FastAPI, client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM
) -> tuple[asyncio.Task[httpx.Response], object]:
    fake_llm.script(fake_llm.timeout())
    stream = asyncio.create_task(
        client.post("/api/agent/chat/stream", json={"message": "Hi"}, headers=user.headers)
    )
    await until(lambda: called(fake_llm, 1), "the model called")
    [run_id] = list(app.state.runs.host.tasks)
    return stream, run_id


async def test_a_follower_past_its_patience_ends_with_database_busy_having_backed_off(
    app: FastAPI,
    settings: Settings,
    client: httpx.AsyncClient,
    user: TestUser,
    fake_llm: FakeLLM,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Away for longer than the patience (3 s): the stream ends with `error database_busy`, the
    run goes on (a resume with Last-Event-ID follows it), and meanwhile the reads backed off:
    pauses of 0.2, 0.4, 0.8 and 1.6 s leave room for 4 reads in 3 s at most, where reading
    again every 0.2 s would be 15 and a fixed pause of 0.2 s about 7."""
    caplog.set_level(logging.INFO, logger="agent_service.runs")
    settings.run_follow_patience_s = 3.0
    stream, run_id = await follow_a_hanging_run(app, client, user, fake_llm)

    held = await take_every_connection(app.state.engine)
    try:
        response = await asyncio.wait_for(stream, timeout=20)
    finally:
        for connection in held:
            await connection.close()

    events = parse_sse(response.text)
    assert [e.event for e in events] == ["run.created", "error"], events
    assert events[-1].json()["error"] == "database_busy"
    assert 1 <= logged_count(caplog, LOST) <= 4, logged_count(caplog, LOST)
    r = await client.get(f"/api/runs/{run_id}", headers=user.headers)
    assert r.json()["status"] == "running", r.text  # the follower gave up, not the run
    await client.post(f"/api/runs/{run_id}/cancel", headers=user.headers)
    r = await client.get(
        f"/api/runs/{run_id}/events", headers={**user.headers, "Last-Event-ID": events[0].id or ""}
    )
    assert [e.json()["error"] for e in parse_sse(r.text)] == ["run_cancelled"]


async def test_a_followers_patience_starts_over_once_a_read_succeeds(
    app: FastAPI,
    settings: Settings,
    client: httpx.AsyncClient,
    user: TestUser,
    fake_llm: FakeLLM,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Two losses of about 0.6 s each, 1 s of patience: together longer than it, but a read went
    through between them (no event came: the model still works), so the stream goes on. It
    measured the second loss from the first before."""
    caplog.set_level(logging.INFO, logger="agent_service.runs")
    settings.run_follow_patience_s = 1.0
    stream, run_id = await follow_a_hanging_run(app, client, user, fake_llm)

    for losses in (1, 2):
        held = await take_every_connection(app.state.engine)
        try:
            await logged(caplog, LOST, times=2 * losses)  # two reads refused: 0.6 s at least
        finally:
            for connection in held:
                await connection.close()
        await logged(caplog, BACK, times=losses)

    assert not stream.done()
    for back in [r for r in caplog.records if BACK in r.getMessage()]:
        away_s = back.args[1]  # type: ignore[index]
        assert 0.2 <= away_s < 60, back.getMessage()  # how long it was away (the test's bounds)
    r = await client.post(f"/api/runs/{run_id}/cancel", headers=user.headers)
    assert r.status_code == 202, r.text
    events = parse_sse((await asyncio.wait_for(stream, timeout=15)).text)
    assert [e.event for e in events] == ["run.created", "error"], events
    assert events[-1].json()["error"] == "run_cancelled"
