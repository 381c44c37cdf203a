"""Idempotency-Key on chat: a retried turn is one run, JSON replayed, a stream replayed from its run."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from agent_service.idempotency.models import IdempotencyKey
from agent_service.runs.models import Run
from agent_service.settings import Settings
from agent_testkit import FakeLLM, parse_sse
from tests.conftest import use_fake_llm
from tests.factories import TestUser
from tests.integration.test_runs_api import new_conversation
from tests.integration.test_runs_multitask import SLOW, start_busy_run

pytestmark = pytest.mark.usefixtures("llm_waits")


@pytest.fixture
def settings(settings: Settings, fake_llm: FakeLLM) -> Settings:
    return use_fake_llm(settings, fake_llm.base_url)


def keyed(user: TestUser, key: str) -> dict[str, str]:
    return {**user.headers, "Idempotency-Key": key}


async def count(app: FastAPI, table: type) -> int:
    async with app.state.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(table)) or 0)


async def test_a_retried_chat_is_one_run_and_the_same_reply(
    app: FastAPI, client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM
) -> None:
    fake_llm.script(  # one model answer: a second run would fail the test (strict fake)
        fake_llm.tool_call("create_task", title="Ship it"), fake_llm.reply("Done.")
    )
    body = {"message": "Add a task to ship it"}

    first = await client.post("/api/agent/chat", json=body, headers=keyed(user, "chat-1"))
    again = await client.post("/api/agent/chat", json=body, headers=keyed(user, "chat-1"))

    assert first.status_code == again.status_code == 200, first.text
    assert again.json() == first.json()
    assert again.headers["x-run-id"] == first.headers["x-run-id"] == first.json()["run_id"]
    assert again.headers["idempotent-replayed"] == "true"
    assert await count(app, Run) == 1
    tasks = (await client.get("/api/tasks", headers=user.headers)).json()
    assert [t["title"] for t in tasks] == ["Ship it"]


async def test_twenty_concurrent_chats_with_one_key_make_one_run_and_one_task(
    app: FastAPI, client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM
) -> None:
    fake_llm.script(fake_llm.tool_call("create_task", title="Once"), fake_llm.reply("Created."))
    body = {"message": "Add a task called Once"}

    answers = await asyncio.gather(
        *(
            client.post("/api/agent/chat", json=body, headers=keyed(user, "burst"))
            for _ in range(20)
        )
    )

    assert {r.status_code for r in answers} == {200}, [r.text for r in answers][:2]
    assert len({r.json()["run_id"] for r in answers}) == 1
    assert sum(r.headers.get("idempotent-replayed") == "true" for r in answers) == 19
    assert await count(app, Run) == 1
    assert len((await client.get("/api/tasks", headers=user.headers)).json()) == 1


async def test_a_retried_stream_replays_the_same_run(
    app: FastAPI, client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM
) -> None:
    fake_llm.script(fake_llm.reply("Streamed once."))
    body = {"message": "Hi"}

    first = await client.post("/api/agent/chat/stream", json=body, headers=keyed(user, "s-1"))
    again = await client.post("/api/agent/chat/stream", json=body, headers=keyed(user, "s-1"))

    assert first.status_code == again.status_code == 200
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["x-run-id"] == first.headers["x-run-id"]
    original, replayed = parse_sse(first.text), parse_sse(again.text)
    assert [(e.id, e.event, e.data) for e in replayed] == [
        (e.id, e.event, e.data) for e in original
    ]
    assert replayed[0].event == "run.created" and replayed[-1].event == "message.completed"
    assert await count(app, Run) == 1
    async with app.state.sessionmaker() as session:
        row = await session.scalar(select(IdempotencyKey))
    assert row is not None and str(row.run_id) == first.headers["x-run-id"]
    assert row.response_body is None  # a stream is replayed from its run's events, not its bytes

    changed = await client.post(
        "/api/agent/chat/stream", json={"message": "Hello"}, headers=keyed(user, "s-1")
    )
    assert (changed.status_code, changed.json()["error"]) == (422, "idempotency_key_reused")


async def test_a_refusal_a_retry_can_outlive_releases_the_key(
    app: FastAPI, client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM, settings: Settings
) -> None:
    fake_llm.script(fake_llm.reply("Uses the quota."), fake_llm.reply("After the raise."))
    settings.user_daily_token_quota = 1
    assert (
        await client.post("/api/agent/chat", json={"message": "a"}, headers=user.headers)
    ).status_code == 200
    body = {"message": "b"}

    refused = await client.post("/api/agent/chat", json=body, headers=keyed(user, "q"))
    assert (refused.status_code, refused.json()["error"]) == (429, "quota_exceeded")
    assert await count(app, IdempotencyKey) == 0  # a 429 is not the answer to keep

    settings.user_daily_token_quota = None
    retried = await client.post("/api/agent/chat", json=body, headers=keyed(user, "q"))
    assert retried.status_code == 200 and "idempotent-replayed" not in retried.headers
    assert retried.json()["response"] == "After the raise."


async def test_when_the_first_request_fails_a_waiting_repeat_does_the_work(
    app: FastAPI, client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM, settings: Settings
) -> None:
    settings.llm_timeout_s = 0.3
    settings.llm_max_retries = 0
    fake_llm.script(fake_llm.timeout(), fake_llm.reply("Second time lucky."))
    body = {"message": "Hi"}

    answers = await asyncio.gather(
        *(client.post("/api/agent/chat", json=body, headers=keyed(user, "f")) for _ in range(2))
    )

    assert sorted(r.status_code for r in answers) == [200, 503]  # a 5xx is not kept
    [ok] = [r for r in answers if r.status_code == 200]
    assert ok.json()["response"] == "Second time lucky."
    assert "idempotent-replayed" not in ok.headers
    again = await client.post("/api/agent/chat", json=body, headers=keyed(user, "f"))
    assert again.json() == ok.json() and again.headers["idempotent-replayed"] == "true"


async def test_a_conflict_is_not_the_answer_kept_for_the_key(
    client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM
) -> None:
    """409 `run_in_progress` says "not now": the same key after the busy run ends gets a run."""
    fake_llm.script(
        fake_llm.tool_call("create_task", title="first"),
        fake_llm.reply(SLOW, chunk_delay=0.05),
        fake_llm.reply("Now."),
    )
    conversation_id = await new_conversation(client, user)
    turn, run = await start_busy_run(client, user, fake_llm, conversation_id)
    body = {"message": "second", "conversation_id": conversation_id, "multitask_strategy": "reject"}

    busy = await client.post("/api/agent/chat", json=body, headers=keyed(user, "busy"))
    assert (busy.status_code, busy.json()["error"]) == (409, "run_in_progress")
    await client.post(f"/api/runs/{run['id']}/cancel", headers=user.headers)
    await asyncio.wait_for(turn, 5)

    later = await client.post("/api/agent/chat", json=body, headers=keyed(user, "busy"))
    assert later.status_code == 200, later.text
    assert "idempotent-replayed" not in later.headers
    assert later.json()["response"] == "Now."
