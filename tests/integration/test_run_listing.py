"""Listing runs: yours only, newest first, one status if asked (the approvals page), paged with
their total; a conversation's runs, none when it has none; a run's usage adds up; a cancel asks
only the run it names to stop."""

from __future__ import annotations

import uuid

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from agent_service.runs.models import Run
from agent_service.settings import Settings
from agent_testkit import FakeLLM
from tests.conftest import use_fake_llm
from tests.factories import TestUser


@pytest.fixture
def settings(settings: Settings, fake_llm: FakeLLM) -> Settings:
    return use_fake_llm(settings, fake_llm.base_url)


async def chat(client: httpx.AsyncClient, user: TestUser, message: str) -> dict:
    r = await client.post("/api/agent/chat", json={"message": message}, headers=user.headers)
    assert r.status_code == 200, r.text
    return dict(r.json())


async def listed(
    client: httpx.AsyncClient, user: TestUser, path: str = "/api/runs", **params: object
) -> tuple[list[str], str]:
    r = await client.get(path, params=params, headers=user.headers)
    assert r.status_code == 200, r.text
    return [run["id"] for run in r.json()], r.headers["X-Total-Count"]


async def test_your_runs_newest_first_of_one_status_paged(
    client: httpx.AsyncClient, user: TestUser, other_user: TestUser, fake_llm: FakeLLM
) -> None:
    assert await listed(client, user) == ([], "0")
    task = await client.post("/api/tasks", json={"title": "precious"}, headers=user.headers)
    fake_llm.script(
        fake_llm.reply("First."),
        fake_llm.tool_call("delete_task", task_id=task.json()["id"]),  # paused for approval
        fake_llm.reply("Someone else's."),
    )
    done = (await chat(client, user, "one"))["run_id"]
    paused = (await chat(client, user, "delete precious"))["run_id"]
    await chat(client, other_user, "mine")

    assert await listed(client, user) == ([paused, done], "2")
    assert await listed(client, user, status="requires_action") == ([paused], "1")
    assert await listed(client, user, status="completed") == ([done], "1")
    assert await listed(client, user, status="failed") == ([], "0")
    assert await listed(client, user, limit=1, offset=1) == ([done], "2")


async def test_a_conversation_without_runs_lists_none(
    client: httpx.AsyncClient, user: TestUser
) -> None:
    r = await client.post(
        "/api/conversations", json={"agent_type": "assistant"}, headers=user.headers
    )
    path = f"/api/conversations/{r.json()['id']}/runs"
    assert await listed(client, user, path) == ([], "0")


async def test_a_runs_usage_adds_up(
    client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM
) -> None:
    fake_llm.script(fake_llm.reply("Counted."))
    reply = await chat(client, user, "count me")
    run = (await client.get(f"/api/runs/{reply['run_id']}", headers=user.headers)).json()
    usage = run["usage"]
    assert usage["prompt_tokens"] > 0 and usage["completion_tokens"] > 0
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


async def test_a_cancel_asks_only_the_run_it_names(
    app: FastAPI, client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM
) -> None:
    """Two paused runs (two conversations): cancelling one leaves the other waiting, not even
    asked to stop (its owner would stop it at the next heartbeat)."""
    ids = []
    for title in ("one", "two"):
        task = await client.post("/api/tasks", json={"title": title}, headers=user.headers)
        fake_llm.script(fake_llm.tool_call("delete_task", task_id=task.json()["id"]))
        ids.append((await chat(client, user, f"delete {title}"))["run_id"])

    r = await client.post(f"/api/runs/{ids[0]}/cancel", headers=user.headers)

    assert r.json()["status"] == "cancelled", r.text
    async with app.state.sessionmaker() as session:
        other = await session.scalar(select(Run).where(Run.id == uuid.UUID(ids[1])))
        assert other is not None
        assert (other.status, other.cancel_requested) == ("requires_action", False)
