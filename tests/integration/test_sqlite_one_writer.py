"""Embedded SQLite has one writer: 60 chat clients at once, each turn making a task through a tool,
give no error (no 500, no 503, no "database is locked"), and every task a turn reported is stored.

The clients go through real HTTP into the app (httpx over ASGI) on the suite's SQLite file; the
model is the kit's fake, which answers each turn's first call with `create_task` and its second
with a reply, whatever order the 100 calls arrive in.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from agent_service.settings import Settings
from agent_testkit import FakeLLM, RecordedCall, parse_sse
from agent_testkit.fake_llm.script import ScriptItem
from tests.conftest import MakeUser, use_fake_llm
from tests.factories import TestUser

CLIENTS = 60  # the issue names 50; 64 is MAX_ACTIVE_TURNS
TURN_DEADLINE_S = 60


@pytest.fixture
def settings(settings: Settings, fake_llm: FakeLLM) -> Settings:
    if not settings.resolved_database_url.startswith("sqlite"):
        pytest.skip("embedded SQLite's writer only")
    return use_fake_llm(settings, fake_llm.base_url)


def task_then_reply(call: RecordedCall) -> ScriptItem:
    """A turn's first call makes a task named after the user's words; its second answers."""
    if call.messages[-1].get("role") == "tool":
        return FakeLLM.reply("Done: " + json.loads(call.tool_result("create_task"))["task"]["id"])
    return FakeLLM.tool_call("create_task", title=call.last_user_message or "?")


async def chat_turn(client: httpx.AsyncClient, user: TestUser, number: int) -> dict[str, Any]:
    """One client's turn, half of them on the JSON route and half streamed; what it answered."""
    message = {"message": f"task {number}"}
    if number % 2:
        r = await client.post("/api/agent/chat", json=message, headers=user.headers)
        body = r.json()
        return {"status": r.status_code, "body": body, "ok": r.status_code == 200}
    r = await client.post("/api/agent/chat/stream", json=message, headers=user.headers)
    events = parse_sse(r.text) if r.status_code == 200 else []
    names = [event.event for event in events]
    ok = r.status_code == 200 and names[-1:] == ["message.completed"] and "error" not in names
    return {"status": r.status_code, "body": r.text[-500:], "ok": ok}


async def test_sixty_chat_clients_with_tool_calls_lose_nothing(
    client: httpx.AsyncClient, make_user: MakeUser, fake_llm: FakeLLM
) -> None:
    users = [await make_user() for _ in range(CLIENTS)]
    fake_llm.script(*[fake_llm.respond(task_then_reply)] * (2 * CLIENTS))

    async with asyncio.timeout(TURN_DEADLINE_S):
        answers = await asyncio.gather(
            *(chat_turn(client, user, n) for n, user in enumerate(users))
        )

    failed = [a for a in answers if not a["ok"]]
    assert failed == [], f"{len(failed)} of {CLIENTS} turns failed, first: {failed[:3]}"
    for number, user in enumerate(users):
        r = await client.get("/api/tasks", headers=user.headers)
        assert r.status_code == 200, r.text
        assert [t["title"] for t in r.json()] == [f"task {number}"]
