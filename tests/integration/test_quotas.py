"""Daily token quotas through HTTP: the run that crosses the quota, the refusal, the next UTC day.

Time is injected with the app's clock (`sessionmaker.configure(info={"clock": ...})`), never slept.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI

from agent_service.quotas import service as quotas
from agent_service.settings import Settings
from agent_testkit import FakeLLM
from tests.conftest import use_fake_llm
from tests.database import inserts_refused
from tests.factories import TestUser

pytestmark = pytest.mark.usefixtures("llm_waits")

QUOTA = 10  # the fake model's first answer alone uses more: one run crosses it


class FrozenClock:
    """A UTC clock that moves only when told to."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def settings(settings: Settings, fake_llm: FakeLLM) -> Settings:
    settings.user_daily_token_quota = QUOTA
    return use_fake_llm(settings, fake_llm.base_url)


@pytest.fixture
def clock(app: FastAPI) -> FrozenClock:
    frozen = FrozenClock(datetime(2026, 12, 1, 23, 59, 30, tzinfo=UTC))
    app.state.sessionmaker.configure(info={"clock": frozen})
    return frozen


async def chat(client: httpx.AsyncClient, user: TestUser, message: str) -> httpx.Response:
    return await client.post("/api/agent/chat", json={"message": message}, headers=user.headers)


async def usage(client: httpx.AsyncClient, user: TestUser) -> dict:
    r = await client.get("/api/profile/usage", headers=user.headers)
    assert r.status_code == 200, r.text
    return dict(r.json())


async def test_the_run_that_crosses_the_quota_finishes_and_the_next_waits_for_the_next_day(
    client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM, clock: FrozenClock
) -> None:
    fake_llm.script(fake_llm.reply("First answer, a long one."), fake_llm.reply("Next day."))

    first = await chat(client, user, "hello")
    assert first.status_code == 200, first.text
    spent = first.json()["usage"]["total_tokens"]
    assert spent > QUOTA
    assert await usage(client, user) == {
        "day": "2026-12-01",
        "tokens_used": spent,
        "quota": QUOTA,
        "tokens_left": 0,
        "resets_at": "2026-12-02T00:00:00Z",
    }

    refused = await chat(client, user, "again")
    assert refused.status_code == 429
    assert refused.json()["error"] == "quota_exceeded"
    assert f"{spent} of {QUOTA} tokens" in refused.json()["detail"]
    assert refused.headers["retry-after"] == "30"  # until midnight UTC
    stream = await client.post(
        "/api/agent/chat/stream", json={"message": "again"}, headers=user.headers
    )
    assert (stream.status_code, stream.json()["error"]) == (429, "quota_exceeded")

    clock.now += timedelta(seconds=31)  # 00:00:01 the next day
    assert (await usage(client, user))["tokens_used"] == 0
    assert (await chat(client, user, "new day")).status_code == 200
    today = await usage(client, user)
    assert today["day"] == "2026-12-02" and today["tokens_used"] > 0


async def test_in_the_last_second_of_the_day_the_refusal_asks_to_wait_one_second(
    client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM, clock: FrozenClock
) -> None:
    fake_llm.script(fake_llm.reply("Uses the day up."))
    assert (await chat(client, user, "hello")).status_code == 200

    clock.now = clock.now.replace(second=59, microsecond=600_000)  # 0.4 s to midnight
    refused = await chat(client, user, "again")

    assert (refused.status_code, refused.headers["retry-after"]) == (429, "1")


async def test_the_quota_is_per_user(
    client: httpx.AsyncClient,
    user: TestUser,
    other_user: TestUser,
    fake_llm: FakeLLM,
    clock: FrozenClock,
) -> None:
    fake_llm.script(fake_llm.reply("For the first user."), fake_llm.reply("For the other."))

    assert (await chat(client, user, "hello")).status_code == 200
    assert (await chat(client, user, "again")).status_code == 429
    assert (await chat(client, other_user, "hello")).status_code == 200


async def test_usage_is_counted_without_a_quota(
    client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM, settings: Settings
) -> None:
    settings.user_daily_token_quota = None
    fake_llm.script(fake_llm.reply("One."), fake_llm.reply("Two."))

    spent = [(await chat(client, user, m)).json()["usage"]["total_tokens"] for m in ("a", "b")]

    counted = await usage(client, user)
    assert (counted["tokens_used"], counted["quota"], counted["tokens_left"]) == (
        sum(spent),
        None,
        None,
    )


async def test_a_count_that_cannot_be_written_never_costs_the_answer(
    app: FastAPI,
    client: httpx.AsyncClient,
    user: TestUser,
    fake_llm: FakeLLM,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The count is written in the answer's transaction: the database refusing it (a trigger here)
    rolls that transaction back, and the answer is stored again without it; the run completes.
    PostgreSQL is the strict case: there a refused statement aborts the whole transaction."""
    caplog.set_level(logging.WARNING, logger="agent_service.runs")
    fake_llm.script(fake_llm.reply("Stored all the same."))
    # the reservation's row (no tokens yet) is let in: what is refused is the count itself
    async with inserts_refused(app.state.engine, "token_usage", when="NEW.tokens > 0"):
        r = await chat(client, user, "hello")

    assert r.status_code == 200, r.text
    assert r.json()["response"] == "Stored all the same."
    assert r.json()["usage"]["total_tokens"] > 0
    history = await client.get(
        f"/api/conversations/{r.json()['conversation_id']}/history", headers=user.headers
    )
    assert [m["content"] for m in history.json()["messages"]] == ["hello", "Stored all the same."]
    assert (await usage(client, user))["tokens_used"] == 0  # refused both times, never half-counted
    logged = [record.getMessage() for record in caplog.records]
    assert any(
        m.startswith("could not count the usage of run ") and m.endswith("storing the answer alone")
        for m in logged
    ), logged
    assert "could not record the usage of a run" in logged  # the retry in its own transaction


async def test_usage_needs_a_token(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/profile/usage")).status_code == 401


async def test_concurrent_runs_never_lose_a_count(
    app: FastAPI, settings: Settings, user: TestUser, clock: FrozenClock
) -> None:
    await asyncio.gather(
        *(quotas.record_usage(app.state.sessionmaker, settings, user.id, 7) for _ in range(20))
    )
    await quotas.record_usage(app.state.sessionmaker, settings, user.id, 0)

    async with app.state.sessionmaker() as session:
        assert await quotas.tokens_used(session, user.id, clock.now.date()) == 140
