"""Getting a run to its driver: a resumed run's events follow its pause without a gap; a queued
run cancelled before its claim ends `cancelled` with none of its messages stored, and the run it
waited for goes on; and once a run is no longer driven, nothing of it stays with the batcher."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from fastapi import FastAPI

from agent_service.settings import Settings
from agent_testkit import FakeLLM, parse_sse
from tests.conftest import use_fake_llm
from tests.factories import TestUser
from tests.integration.test_run_takeover import called, run_status_is, until


@pytest.fixture
def settings(settings: Settings, fake_llm: FakeLLM) -> Settings:
    settings.run_poll_s = 0.2
    use_fake_llm(settings, fake_llm.base_url)
    settings.llm_timeout_s = 60.0  # a model call that hangs does so for the whole test
    return settings


async def test_a_resumed_runs_events_follow_its_pause_without_a_gap(
    app: FastAPI, client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM
) -> None:
    task = await client.post("/api/tasks", json={"title": "precious"}, headers=user.headers)
    fake_llm.script(
        fake_llm.tool_call("delete_task", task_id=task.json()["id"]), fake_llm.reply("Kept.")
    )
    paused = await client.post(
        "/api/agent/chat", json={"message": "delete precious"}, headers=user.headers
    )
    run_id = paused.json()["run_id"]
    [call] = paused.json()["pending_tool_calls"]
    r = await client.post(
        f"/api/runs/{run_id}/resume",
        json={"decisions": [{"tool_call_id": call["id"], "approve": False}]},
        headers=user.headers,
    )
    assert r.status_code == 202, r.text
    await until(lambda: run_status_is(app, uuid.UUID(run_id), "completed"), "completed")

    r = await client.get(f"/api/runs/{run_id}/events", headers=user.headers)
    events = parse_sse(r.text)
    names = [e.event for e in events]
    assert names[0] == "run.created" and names[-1] == "message.completed", names
    pause = names.index("run.requires_action")
    assert names[pause + 1] == "tool.result", names  # the denial, the resume's first event
    assert [int(e.id or 0) for e in events] == list(range(1, len(events) + 1))
    assert app.state.runs.host.batcher._writers == {}  # no writer of a run not driven is kept


async def test_a_queued_run_cancelled_before_its_claim_stores_nothing(
    app: FastAPI, client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM
) -> None:
    fake_llm.script(fake_llm.timeout())
    first = asyncio.create_task(
        client.post("/api/agent/chat/stream", json={"message": "first"}, headers=user.headers)
    )
    await until(lambda: called(fake_llm, 1), "the first run called the model")
    [first_id] = list(app.state.runs.host.tasks)
    r = await client.get("/api/runs", headers=user.headers)
    conversation_id = r.json()[0]["conversation_id"]
    queued = asyncio.create_task(
        client.post(
            "/api/agent/chat",
            json={
                "message": "queued",
                "conversation_id": conversation_id,
                "multitask_strategy": "enqueue",
            },
            headers=user.headers,
        )
    )

    async def the_queued_run() -> str | None:
        runs = (await client.get("/api/runs", headers=user.headers)).json()
        return next((run["id"] for run in runs if run["status"] == "queued"), None)

    queued_id = await until(the_queued_run, "the second run queued")
    r = await client.post(f"/api/runs/{queued_id}/cancel", headers=user.headers)
    assert r.json()["status"] == "cancelled", r.text
    r = await asyncio.wait_for(queued, timeout=10)
    assert (r.status_code, r.json()["error"]) == (409, "run_cancelled"), r.text

    r = await client.post(f"/api/runs/{first_id}/cancel", headers=user.headers)
    assert r.json()["status"] == "cancelled", r.text
    await asyncio.wait_for(first, timeout=10)
    r = await client.get(f"/api/conversations/{conversation_id}/history", headers=user.headers)
    assert [m["content"] for m in r.json()["messages"]] == ["first"]  # not "queued"
    assert len(fake_llm.calls) == 1  # the queued run never reached the model
