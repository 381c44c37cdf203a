"""POST /api/runs/{id}/rollback: the latest ended run is taken back (its messages and its tools'
effects), so the page can regenerate an answer or resend an edited message."""

from __future__ import annotations

import httpx
import pytest

from agent_service.demo.server import demo_answer
from agent_service.settings import Settings
from agent_testkit import FakeLLM
from tests.conftest import use_fake_llm
from tests.factories import TestUser

pytestmark = pytest.mark.fake_llm(strict=False, default=FakeLLM.respond(demo_answer))


@pytest.fixture
def settings(settings: Settings, fake_llm: FakeLLM) -> Settings:
    return use_fake_llm(settings, fake_llm.base_url)


async def chat(client: httpx.AsyncClient, user: TestUser, message: str, conversation: str) -> str:
    r = await client.post(
        "/api/agents/assistant/chat",
        json={"messages": [{"role": "user", "content": message}], "conversation_id": conversation},
        headers=user.headers,
    )
    assert r.status_code == 200, r.text
    return str(r.json()["run_id"])


async def test_the_latest_run_is_taken_back_with_its_effects(
    client: httpx.AsyncClient, user: TestUser, other_user: TestUser
) -> None:
    r = await client.post(
        "/api/conversations", json={"agent_type": "assistant"}, headers=user.headers
    )
    conversation = r.json()["id"]
    first = await chat(client, user, "add a task to buy milk", conversation)
    second = await chat(client, user, "add a task to call Bob", conversation)
    assert len((await client.get("/api/tasks", headers=user.headers)).json()) == 2

    r = await client.post(f"/api/runs/{first}/rollback", headers=user.headers)
    assert (r.status_code, r.json()["error"]) == (409, "run_not_latest")
    r = await client.post(f"/api/runs/{second}/rollback", headers=other_user.headers)
    assert r.status_code == 404

    r = await client.post(f"/api/runs/{second}/rollback", headers=user.headers)
    assert r.status_code == 200 and r.json()["status"] == "completed"
    titles = [t["title"] for t in (await client.get("/api/tasks", headers=user.headers)).json()]
    assert titles == ["Buy milk"]
    history = (
        await client.get(f"/api/conversations/{conversation}/history", headers=user.headers)
    ).json()["messages"]
    said = [m["content"] for m in history if m["role"] == "user"]
    assert said == ["add a task to buy milk"]

    again = await chat(client, user, "add a task to call Bob", conversation)
    assert again != second
    assert len((await client.get("/api/tasks", headers=user.headers)).json()) == 2
