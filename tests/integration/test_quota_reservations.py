"""Quotas that hold under concurrency: a turn reserves tokens at admission and settles at its end,
so 30 turns at once pass the quota by at most one reservation; a turn cut short counts what it
streamed; the tokens before an approval pause are charged."""

from __future__ import annotations

import asyncio
import math

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from agent_service.quotas import service as quotas
from agent_service.quotas.models import TokenUsage
from agent_service.runs.models import Run, RunEvent
from agent_service.runs.settlement import CHARS_PER_TOKEN
from agent_service.settings import Settings
from agent_testkit import FakeLLM, parse_sse
from tests.conftest import use_fake_llm
from tests.factories import TestUser

pytestmark = pytest.mark.usefixtures("llm_waits")

TURNS = 30
ASK = "Count this turn"


@pytest.fixture
def settings(settings: Settings, fake_llm: FakeLLM) -> Settings:
    # 30 turns queue for 10 connections rather than take 60 of a shared server's
    settings.db_pool_size, settings.db_max_overflow, settings.db_pool_timeout_s = 10, 0, 60
    return use_fake_llm(settings, fake_llm.base_url)


async def turn(client: httpx.AsyncClient, user: TestUser, session_id: str) -> httpx.Response:
    """One turn in a conversation of its own (the client's session id)."""
    body = {"messages": [{"role": "user", "content": ASK}], "session_id": session_id}
    return await client.post("/api/agents/assistant/chat", json=body, headers=user.headers)


async def counted(app: FastAPI, user: TestUser) -> tuple[int, int]:
    """(tokens, reserved) of the user's day, read from the table."""
    async with app.state.sessionmaker() as session:
        row = await session.scalar(select(TokenUsage).where(TokenUsage.user_id == user.id))
    return (row.tokens, row.reserved) if row is not None else (0, 0)


async def one_turns_tokens(client: httpx.AsyncClient, other_user: TestUser) -> int:
    r = await turn(client, other_user, "measure")
    assert r.status_code == 200, r.text
    return int(r.json()["usage"]["total_tokens"])


@pytest.mark.fake_llm(strict=False, default=FakeLLM.reply("Counted."))
async def test_thirty_turns_at_once_pass_the_quota_by_at_most_one_reservation(
    app: FastAPI,
    client: httpx.AsyncClient,
    user: TestUser,
    other_user: TestUser,
    settings: Settings,
) -> None:
    per_turn = await one_turns_tokens(client, other_user)  # every turn here uses as much
    settings.user_daily_token_quota = quota = 3 * per_turn
    settings.run_token_reservation = per_turn

    answers = await asyncio.gather(*(turn(client, user, f"s{n}") for n in range(TURNS)))

    admitted = [r for r in answers if r.status_code == 200]
    refused = [r for r in answers if r.status_code != 200]
    assert {(r.status_code, r.json()["error"]) for r in refused} == {(429, "quota_exceeded")}
    assert all(r.headers["retry-after"] for r in refused)
    tokens, reserved = await counted(app, user)
    assert reserved == 0  # every admitted turn settled
    assert tokens == len(admitted) * per_turn
    assert quota <= tokens <= quota + per_turn, (len(admitted), tokens)  # was 30 turns, 10x


async def test_a_turn_is_refused_while_running_turns_hold_the_rest_and_let_in_after(
    app: FastAPI,
    client: httpx.AsyncClient,
    user: TestUser,
    other_user: TestUser,
    fake_llm: FakeLLM,
    settings: Settings,
) -> None:
    fake_llm.script(fake_llm.reply("Measured."))
    per_turn = await one_turns_tokens(client, other_user)
    settings.user_daily_token_quota = 10 * per_turn
    settings.run_token_reservation = 10 * per_turn  # one turn holds the whole day
    fake_llm.script(fake_llm.reply("slow " * 40, chunk_delay=0.05), fake_llm.reply("After."))

    stream = asyncio.create_task(
        client.post("/api/agent/chat/stream", json={"message": "long"}, headers=user.headers)
    )
    await streamed_text(app, user, at_least=1)
    assert await counted(app, user) == (0, 10 * per_turn)
    held = await turn(client, user, "second")
    assert (held.status_code, held.json()["error"]) == (429, "quota_exceeded")
    assert held.headers["retry-after"] == "2"  # not until midnight: a turn settles soon
    assert "hold the rest" in held.json()["detail"]
    await asyncio.wait_for(stream, 10)

    tokens, reserved = await settled(app, user)  # just after the stream's last event
    assert reserved == 0 and 0 < tokens < 10 * per_turn
    assert (await turn(client, user, "third")).status_code == 200


async def settled(app: FastAPI, user: TestUser) -> tuple[int, int]:
    """(tokens, reserved) once no reservation is held (10 s deadline)."""
    async with asyncio.timeout(10):
        while True:
            found = await counted(app, user)
            if found[1] == 0:
                return found
            await asyncio.sleep(0.02)


async def streamed_text(app: FastAPI, user: TestUser, *, at_least: int) -> str:
    """The text the user's run stored so far, once it is `at_least` characters (10 s deadline)."""
    async with asyncio.timeout(10):
        while True:
            async with app.state.sessionmaker() as session:
                rows = await session.scalars(
                    select(RunEvent.data)
                    .join(Run, Run.id == RunEvent.run_id)
                    .where(Run.user_id == user.id, RunEvent.event == "message.delta")
                )
                text = "".join(data["delta"] for data in rows)
            if len(text) >= at_least:
                return text
            await asyncio.sleep(0.02)


async def test_a_day_used_to_the_last_token_refuses_the_next_turn_until_midnight(
    app: FastAPI,
    client: httpx.AsyncClient,
    user: TestUser,
    fake_llm: FakeLLM,
    settings: Settings,
) -> None:
    fake_llm.script(fake_llm.reply("Exactly the quota."))
    settings.user_daily_token_quota = 10**6
    first = await turn(client, user, "one")
    settings.user_daily_token_quota = first.json()["usage"]["total_tokens"]  # used == quota

    refused = await turn(client, user, "two")

    assert (refused.status_code, refused.json()["error"]) == (429, "quota_exceeded")
    assert int(refused.headers["retry-after"]) > 2  # until midnight UTC
    assert "used up" in refused.json()["detail"]
    assert await counted(app, user) == (first.json()["usage"]["total_tokens"], 0)


@pytest.mark.parametrize("how", ["cancelled", "failed"])
async def test_a_turn_cut_short_counts_the_text_it_streamed(
    app: FastAPI,
    client: httpx.AsyncClient,
    user: TestUser,
    fake_llm: FakeLLM,
    settings: Settings,
    how: str,
) -> None:
    settings.llm_max_retries = 0
    settings.user_daily_token_quota = 10**6  # a reservation, given back with the count
    words = " ".join(f"word{n}" for n in range(200))
    if how == "cancelled":
        fake_llm.script(fake_llm.reply(words, chunk_delay=0.01))
    else:  # the provider drops the stream midway: no usage report ever comes
        fake_llm.script(fake_llm.cut_stream(after=60, item=fake_llm.reply(words)))

    stream = asyncio.create_task(
        client.post("/api/agent/chat/stream", json={"message": "talk"}, headers=user.headers)
    )
    if how == "cancelled":
        await streamed_text(app, user, at_least=200)
        async with app.state.sessionmaker() as session:
            run_id = str(await session.scalar(select(Run.id).where(Run.user_id == user.id)))
        r = await client.post(f"/api/runs/{run_id}/cancel", headers=user.headers)
        assert r.status_code == 202
    run_id = (await asyncio.wait_for(stream, 10)).headers["x-run-id"]

    run = (await client.get(f"/api/runs/{run_id}", headers=user.headers)).json()
    assert run["status"] == how
    events = parse_sse((await client.get(f"/api/runs/{run_id}/events", headers=user.headers)).text)
    streamed = "".join(e.json()["delta"] for e in events if e.event == "message.delta")
    assert len(streamed) > 100
    tokens, _ = await settled(app, user)
    assert tokens == math.ceil(len(streamed) / CHARS_PER_TOKEN)  # was 0


async def test_the_tokens_before_an_approval_pause_are_charged(
    app: FastAPI,
    client: httpx.AsyncClient,
    user: TestUser,
    fake_llm: FakeLLM,
    settings: Settings,
) -> None:
    settings.user_daily_token_quota = 10**6
    r = await client.post("/api/tasks", json={"title": "precious"}, headers=user.headers)
    fake_llm.script(fake_llm.tool_call("delete_task", task_id=r.json()["id"]))

    paused = await client.post(
        "/api/agent/chat", json={"message": "delete precious"}, headers=user.headers
    )

    assert paused.json()["status"] == "requires_action", paused.text
    spent = paused.json()["usage"]["total_tokens"]
    assert spent > 0
    assert await counted(app, user) == (spent, 0)  # charged now, reservation given back


async def pause_for_approval(client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM) -> dict:
    """A turn that paused asking to delete a task; its JSON reply."""
    r = await client.post("/api/tasks", json={"title": "precious"}, headers=user.headers)
    fake_llm.script(fake_llm.tool_call("delete_task", task_id=r.json()["id"]))
    paused = await client.post(
        "/api/agent/chat", json={"message": "delete precious"}, headers=user.headers
    )
    assert paused.json()["status"] == "requires_action", paused.text
    return dict(paused.json())


async def test_at_the_quota_a_resume_is_refused_and_the_run_keeps_waiting(
    client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM, settings: Settings
) -> None:
    settings.user_daily_token_quota = 10**6
    paused = await pause_for_approval(client, user, fake_llm)
    settings.user_daily_token_quota = paused["usage"]["total_tokens"]  # used == quota
    [call] = paused["pending_tool_calls"]

    r = await client.post(
        f"/api/runs/{paused['run_id']}/resume",
        json={"decisions": [{"tool_call_id": call["id"], "approve": True}]},
        headers=user.headers,
    )

    assert (r.status_code, r.json()["error"]) == (429, "quota_exceeded")
    run = (await client.get(f"/api/runs/{paused['run_id']}", headers=user.headers)).json()
    assert run["status"] == "requires_action"


async def test_at_the_quota_a_new_message_leaves_the_paused_run_waiting(
    client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM, settings: Settings
) -> None:
    """Refused before anything is done: the paused run a new message would abandon is kept."""
    settings.user_daily_token_quota = 10**6
    paused = await pause_for_approval(client, user, fake_llm)
    settings.user_daily_token_quota = paused["usage"]["total_tokens"]

    r = await client.post(
        "/api/agent/chat",
        json={"message": "never mind", "conversation_id": paused["conversation_id"]},
        headers=user.headers,
    )

    assert (r.status_code, r.json()["error"]) == (429, "quota_exceeded")
    run = (await client.get(f"/api/runs/{paused['run_id']}", headers=user.headers)).json()
    assert run["status"] == "requires_action"


async def test_without_a_quota_every_token_is_counted_and_nothing_reserved(
    app: FastAPI, client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM
) -> None:
    fake_llm.script(fake_llm.reply("No quota."))
    spent = (await turn(client, user, "free")).json()["usage"]["total_tokens"]
    assert await counted(app, user) == (spent, 0)

    await quotas.record_usage(app.state.sessionmaker, app.state.settings, user.id, 1)
    assert await counted(app, user) == (spent + 1, 0)
