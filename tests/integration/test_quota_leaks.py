"""A reservation whose run's process died (or whose settlement met a database that was away) is
never given back by that process: the day holds it until the quota reclaims it, a minute after
its run ended, instead of refusing the user's turns until midnight UTC."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update

from agent_service.db import utcnow
from agent_service.quotas import service as quotas
from agent_service.quotas.models import TokenUsage
from agent_service.runs.models import Run
from agent_service.settings import Settings
from agent_testkit import FakeLLM, parse_sse
from tests.conftest import use_fake_llm
from tests.factories import TestUser
from tests.integration.test_quota_reservations import counted, settled, streamed_text, turn

pytestmark = pytest.mark.usefixtures("llm_waits")

DAY = 10**6  # the quota, and what one turn reserves: one turn holds the whole day


@pytest.fixture
def settings(settings: Settings, fake_llm: FakeLLM) -> Settings:
    settings.user_daily_token_quota = settings.run_token_reservation = DAY
    return use_fake_llm(settings, fake_llm.base_url)


async def leak_a_reservation(app: FastAPI, user: TestUser) -> None:
    """What a process killed while driving a run leaves: the run ended (swept `interrupted`, or
    taken over and finished), its reservation still counted."""
    async with app.state.sessionmaker() as session:
        await session.execute(
            update(TokenUsage)
            .where(TokenUsage.user_id == user.id)
            .values(reserved=TokenUsage.reserved + DAY)
        )
        await session.commit()


async def age_the_runs(app: FastAPI, user: TestUser) -> None:
    """The user's runs ended longer ago than a late settlement could still come back."""
    async with app.state.sessionmaker() as session:
        await session.execute(
            update(Run)
            .where(Run.user_id == user.id)
            .values(finished_at=utcnow() - quotas.SETTLE_GRACE - timedelta(seconds=1))
        )
        await session.commit()


async def test_a_reservation_no_run_holds_is_reclaimed_a_minute_after_its_run_ended(
    app: FastAPI,
    client: httpx.AsyncClient,
    user: TestUser,
    fake_llm: FakeLLM,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="agent_service.quotas")
    fake_llm.script(fake_llm.reply("First."), fake_llm.reply("After the reclaim."))
    first = await turn(client, user, "one")
    assert first.status_code == 200, first.text
    used = first.json()["usage"]["total_tokens"]
    await leak_a_reservation(app, user)

    # its run ended just now: the reservation may be on its way back, so it still holds the day
    held = await turn(client, user, "two")
    assert (held.status_code, held.json()["error"]) == (429, "quota_exceeded")
    assert held.headers["retry-after"] == "2"

    await age_the_runs(app, user)
    after = await turn(client, user, "three")
    assert after.status_code == 200, after.text
    assert after.json()["response"] == "After the reclaim."
    spent = after.json()["usage"]["total_tokens"]
    assert await settled(app, user) == (used + spent, 0)  # reclaimed, not only stepped over
    reclaimed = f"reclaimed {DAY} tokens of user {user.id}'s quota"
    assert [r.getMessage() for r in caplog.records if "reclaimed" in r.getMessage()] == [
        f"{reclaimed} reserved by runs that ended without settling"
    ]


async def test_a_reservation_of_a_running_turn_is_never_reclaimed(
    app: FastAPI,
    client: httpx.AsyncClient,
    user: TestUser,
    fake_llm: FakeLLM,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="agent_service.quotas")
    fake_llm.script(fake_llm.reply("Old."))
    assert (await turn(client, user, "old")).status_code == 200
    await age_the_runs(app, user)
    # a run of another replica is running: its reservation is on the day
    await leak_a_reservation(app, user)
    async with app.state.sessionmaker() as session:
        await session.execute(update(Run).where(Run.user_id == user.id).values(status="running"))
        await session.commit()

    refused = await turn(client, user, "new")

    assert (refused.status_code, refused.json()["error"]) == (429, "quota_exceeded")
    assert (await counted(app, user))[1] == DAY
    assert not [r for r in caplog.records if "reclaimed" in r.getMessage()]


async def test_a_turn_the_held_day_refuses_leaves_the_running_one_alone(
    app: FastAPI, client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM
) -> None:
    """Refused before it does anything: an `interrupt` that cannot be let in does not stop the
    turn that holds the day."""
    fake_llm.script(fake_llm.reply("slow " * 40, chunk_delay=0.05))
    stream = asyncio.create_task(
        client.post("/api/agent/chat/stream", json={"message": "long"}, headers=user.headers)
    )
    await streamed_text(app, user, at_least=1)
    async with app.state.sessionmaker() as session:
        conversation_id = str(await session.scalar(select(Run.conversation_id)))

    body = {"message": "now", "conversation_id": conversation_id, "multitask_strategy": "interrupt"}
    refused = await client.post("/api/agent/chat", json=body, headers=user.headers)

    assert (refused.status_code, refused.json()["error"]) == (429, "quota_exceeded")
    assert refused.headers["retry-after"] == "2"
    answer = await asyncio.wait_for(stream, 10)
    assert parse_sse(answer.text)[-1].event == "message.completed"
