"""A live stream whose follower loses the database while the run goes on (here: every pooled
connection taken, so its reads time out as on a database that does not answer) reads the rows
again once it is back and follows the run to its end: a pause, not an `error database_busy`.
Both databases."""

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
