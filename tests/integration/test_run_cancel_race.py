"""A cancel that loses its race with another replica is answered, not a 500: the run it found
stuck was changed by someone else before the cancel could end it."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from agent_service.conversations.models import Conversation
from agent_service.llm.messages import ChatMessage
from agent_service.runs.executor import RunExecutor
from agent_service.runs.models import Run
from agent_service.runs.notifier import RunNotifier
from agent_service.settings import Settings
from agent_testkit import FakeLLM
from tests.conftest import use_fake_llm
from tests.database import updates_skipped
from tests.factories import TestUser


@pytest.fixture
def settings(settings: Settings, fake_llm: FakeLLM) -> Settings:
    settings.run_heartbeat_s = 3600.0  # A's lease is never renewed: it looks dead at once
    settings.run_lease_s = 0.05
    use_fake_llm(settings, fake_llm.base_url)
    settings.llm_timeout_s = 60.0  # the model call hangs for the whole test
    return settings


@pytest.fixture
async def replica_a(app: FastAPI, settings: Settings) -> AsyncIterator[RunExecutor]:
    replica = RunExecutor(settings, app.state.sessionmaker, app.state.llm, RunNotifier())
    await replica.start()
    try:
        yield replica
    finally:
        await replica.stop()


async def test_a_cancel_that_loses_the_race_to_end_a_stuck_run_is_answered(
    app: FastAPI,
    client: httpx.AsyncClient,
    user: TestUser,
    fake_llm: FakeLLM,
    replica_a: RunExecutor,
) -> None:
    fake_llm.script(fake_llm.timeout())
    r = await client.post(
        "/api/conversations", json={"agent_type": "assistant"}, headers=user.headers
    )
    async with app.state.sessionmaker() as session:
        conversation = await session.get(Conversation, uuid.UUID(r.json()["id"]))
        assert conversation is not None
        run = await replica_a.start_run(
            session, conversation, [ChatMessage("user", "Hi")], stream=True
        )
    deadline = time.monotonic() + 10
    while not fake_llm.calls:
        assert time.monotonic() < deadline, "A never called the model"
        await asyncio.sleep(0.02)

    # A's lease ran out, so the cancel ends the run itself; the database says someone else
    # changed the run first (its conditional end matches no row)
    async with updates_skipped(app.state.engine, "run", when="NEW.status = 'cancelled'"):
        r = await client.post(f"/api/runs/{run.id}/cancel", headers=user.headers)
    assert r.status_code == 202, r.text
    assert (r.json()["id"], r.json()["status"]) == (str(run.id), "running")
    async with app.state.sessionmaker() as session:
        found = await session.get(Run, run.id)
        assert found is not None and found.cancel_requested  # the ask is kept
