"""An Idempotency-Key names a run: a retry after a 5xx gets the run that committed effects, never a
second one; a run that committed nothing lets its key go at once. JSON and stream alike."""

from __future__ import annotations

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

pytestmark = pytest.mark.usefixtures("llm_waits")

ROUTES = ["/api/agent/chat", "/api/agent/chat/stream"]


@pytest.fixture
def settings(settings: Settings, fake_llm: FakeLLM) -> Settings:
    settings.llm_max_retries = 0  # the provider's 5xx fails the run at once
    return use_fake_llm(settings, fake_llm.base_url)


def keyed(user: TestUser, key: str) -> dict[str, str]:
    return {**user.headers, "Idempotency-Key": key}


async def count(app: FastAPI, table: type) -> int:
    async with app.state.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(table)) or 0)


async def task_titles(client: httpx.AsyncClient, user: TestUser) -> list[str]:
    return [t["title"] for t in (await client.get("/api/tasks", headers=user.headers)).json()]


def outcome(response: httpx.Response) -> object:
    """What a client reads: the JSON body, or the stream's events."""
    if response.headers["content-type"].startswith("text/event-stream"):
        return [(e.id, e.event, e.data) for e in parse_sse(response.text)]
    return response.json()


@pytest.mark.parametrize("route", ROUTES)
async def test_retries_after_a_failure_past_a_tool_step_get_that_run_not_a_second_task(
    app: FastAPI, client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM, route: str
) -> None:
    # strict fake: a second run would ask the model again and fail the test
    fake_llm.script(fake_llm.tool_call("create_task", title="Once"), fake_llm.server_error(500))
    body = {"message": "Add a task called Once"}

    first = await client.post(route, json=body, headers=keyed(user, "after-effects"))
    retries = [
        await client.post(route, json=body, headers=keyed(user, "after-effects")) for _ in range(3)
    ]

    assert await task_titles(client, user) == ["Once"]
    assert await count(app, Run) == 1
    for retry in retries:
        assert retry.status_code == first.status_code, retry.text
        assert retry.headers["idempotent-replayed"] == "true"
        assert retry.headers["x-run-id"] == first.headers["x-run-id"]
        assert outcome(retry) == outcome(first)
    if route.endswith("/stream"):
        assert outcome(first)[-1][1] == "error"  # type: ignore[index]
    else:
        assert first.status_code >= 500 and first.json()["error"] != "internal_error"


@pytest.mark.parametrize("route", ROUTES)
async def test_a_run_that_failed_before_committing_anything_frees_its_key_at_once(
    app: FastAPI, client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM, route: str
) -> None:
    fake_llm.script(fake_llm.server_error(500), fake_llm.reply("Second time lucky."))
    body = {"message": "Hi"}

    first = await client.post(route, json=body, headers=keyed(user, "nothing-kept"))
    again = await client.post(route, json=body, headers=keyed(user, "nothing-kept"))
    replayed = await client.post(route, json=body, headers=keyed(user, "nothing-kept"))

    assert "idempotent-replayed" not in again.headers
    assert again.headers["x-run-id"] != first.headers["x-run-id"]
    assert replayed.headers["idempotent-replayed"] == "true"
    assert replayed.headers["x-run-id"] == again.headers["x-run-id"]
    if route.endswith("/stream"):
        assert outcome(first)[-1][1] == "error"  # type: ignore[index]
        assert outcome(again)[-1][1] == "message.completed"  # type: ignore[index]
    else:
        assert first.status_code >= 500
        assert again.status_code == 200 and again.json()["response"] == "Second time lucky."
    assert outcome(replayed) == outcome(again)
    assert await count(app, Run) == 2
    async with app.state.sessionmaker() as session:
        row = await session.scalar(select(IdempotencyKey))
    assert row is not None and str(row.run_id) == again.headers["x-run-id"]


async def test_a_key_names_its_run_from_the_transaction_that_creates_it(
    app: FastAPI, client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM
) -> None:
    fake_llm.script(fake_llm.reply("Bound."))

    answer = await client.post(
        "/api/agent/chat", json={"message": "Hi"}, headers=keyed(user, "bound")
    )

    async with app.state.sessionmaker() as session:
        row = await session.scalar(select(IdempotencyKey))
    assert row is not None and str(row.run_id) == answer.headers["x-run-id"]
    assert row.response_status == 200
    other = await client.post(
        "/api/agent/chat", json={"message": "Other"}, headers=keyed(user, "bound")
    )
    assert (other.status_code, other.json()["error"]) == (422, "idempotency_key_reused")
