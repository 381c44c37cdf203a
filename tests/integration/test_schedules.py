"""Schedules: cron (in a timezone) validated, owned per user, and each tick started as one
background run across two replicas (two apps on one database, each with its own ticker)."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import datetime

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from agent_service.app import create_app
from agent_service.conversations.models import Conversation
from agent_service.runs.models import Run
from agent_service.settings import Settings
from agent_testkit import FakeLLM
from tests.conftest import use_fake_llm
from tests.factories import TestUser

INPUT = [{"role": "user", "content": "Daily report"}]


@pytest.fixture
def settings(settings: Settings, fake_llm: FakeLLM) -> Settings:
    settings = use_fake_llm(settings, fake_llm.base_url)
    settings.run_poll_s = 0.2
    settings.schedule_poll_s = 0.05
    return settings


async def schedule(
    client: httpx.AsyncClient,
    user: TestUser,
    cron: str,
    assistant_id: str = "assistant",
    **extra: str,
) -> httpx.Response:
    body = {"cron": cron, "input": INPUT, **extra}
    return await client.post(
        f"/api/assistants/{assistant_id}/schedules", json=body, headers=user.headers
    )


async def test_a_schedule_is_made_listed_and_deleted_in_its_timezone(
    client: httpx.AsyncClient, user: TestUser, other_user: TestUser
) -> None:
    r = await schedule(client, user, "0 9 * * *", timezone="Asia/Tokyo")
    assert r.status_code == 201, r.text
    made = r.json()
    next_run = datetime.fromisoformat(made["next_run_at"])
    assert (next_run.hour, next_run.minute) == (0, 0)  # 9:00 in Tokyo is midnight UTC
    r = await client.get("/api/schedules", headers=user.headers)
    assert [s["id"] for s in r.json()] == [made["id"]]
    r = await client.get("/api/schedules", headers=other_user.headers)
    assert r.json() == []
    for method in ("GET", "DELETE"):
        r = await client.request(method, f"/api/schedules/{made['id']}", headers=other_user.headers)
        assert r.status_code == 404 and r.json()["error"] == "schedule_not_found"
    r = await client.delete(f"/api/schedules/{made['id']}", headers=user.headers)
    assert r.status_code == 204
    r = await client.get(f"/api/schedules/{made['id']}/runs", headers=user.headers)
    assert r.status_code == 404


async def test_bad_cron_timezone_assistant_or_webhook_is_refused(
    client: httpx.AsyncClient, user: TestUser, other_user: TestUser
) -> None:
    r = await schedule(client, user, "every morning")
    assert r.status_code == 400 and r.json()["error"] == "invalid_cron"
    r = await schedule(client, user, "0 9 * * *", timezone="Mars/Olympus")
    assert r.status_code == 400 and r.json()["error"] == "unknown_timezone"
    made = await client.post("/api/assistants", json={"name": "Mine"}, headers=user.headers)
    r = await schedule(client, other_user, "0 9 * * *", assistant_id=made.json()["id"])
    assert r.status_code == 404 and r.json()["error"] == "assistant_not_found"
    await client.post("/api/webhooks/secret", headers=user.headers)
    r = await schedule(client, user, "0 9 * * *", webhook="http://169.254.169.254/x")
    assert r.status_code == 400 and r.json()["error"] == "webhook_target_refused"


@pytest.mark.fake_llm(strict=False)
async def test_each_tick_starts_one_run_across_two_replicas(
    app: FastAPI, client: httpx.AsyncClient, user: TestUser, settings: Settings
) -> None:
    replica = create_app(settings)  # a second process's app: its own engine, executor, ticker
    async with replica.router.lifespan_context(replica):
        r = await schedule(client, user, "* * * * * *")  # every second
        schedule_id = r.json()["id"]
        deadline = time.monotonic() + 20
        runs: list[dict[str, str]] = []
        while len(runs) < 2:
            assert time.monotonic() < deadline, f"the schedule did not tick twice: {runs}"
            await asyncio.sleep(0.1)
            r = await client.get(f"/api/schedules/{schedule_id}/runs", headers=user.headers)
            runs = r.json()
        await client.delete(f"/api/schedules/{schedule_id}", headers=user.headers)
        for run in runs:
            r = await client.get(f"/api/runs/{run['id']}/wait?timeout_s=10", headers=user.headers)
            assert r.json()["status"] == "completed"
        r = await client.get(f"/api/schedules/{schedule_id}/runs", headers=user.headers)
        assert r.status_code == 404  # deleted: no more ticks
    async with app.state.sessionmaker() as session:  # every run the schedule ever started
        query = (
            select(Conversation.title)
            .join(Run, Run.conversation_id == Conversation.id)
            .where(Run.schedule_id == uuid.UUID(schedule_id))
        )
        titles = list((await session.scalars(query)).all())
    assert len(titles) >= 2
    assert len(set(titles)) == len(titles), f"a tick started two runs: {titles}"
