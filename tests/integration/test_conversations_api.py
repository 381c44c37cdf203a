"""/api/conversations: create, list, read, delete, history; ownership and 404 rules."""

from __future__ import annotations

import uuid
from datetime import datetime

import httpx
import pytest

from agent_service.settings import Settings
from agent_testkit import FakeLLM
from tests.conftest import use_fake_llm
from tests.factories import UNKNOWN_ID, TestUser


@pytest.fixture
def settings(settings: Settings, fake_llm: FakeLLM) -> Settings:
    return use_fake_llm(settings, fake_llm.base_url)


async def create(client: httpx.AsyncClient, user: TestUser, **body: str) -> dict:
    r = await client.post(
        "/api/conversations", json={"agent_type": "assistant", **body}, headers=user.headers
    )
    assert r.status_code == 201, r.text
    return r.json()


async def test_create_read_list_delete(client: httpx.AsyncClient, user: TestUser) -> None:
    first = await create(client, user, title="Planning")
    assert (first["agent_type"], first["title"]) == ("assistant", "Planning")
    assert first["usage"] == {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
    second = await create(client, user, agent_type="coder")

    r = await client.get(f"/api/conversations/{first['id']}", headers=user.headers)
    assert r.status_code == 200 and r.json() == first

    r = await client.get("/api/conversations", params={"limit": 1}, headers=user.headers)
    assert [c["id"] for c in r.json()] == [second["id"]]  # most recently active first
    assert r.headers["x-total-count"] == "2"

    assert (
        await client.delete(f"/api/conversations/{first['id']}", headers=user.headers)
    ).status_code == 204
    r = await client.get(f"/api/conversations/{first['id']}", headers=user.headers)
    assert r.status_code == 404 and r.json()["error"] == "conversation_not_found"


async def test_unknown_agent_type_is_404(client: httpx.AsyncClient, user: TestUser) -> None:
    r = await client.post("/api/conversations", json={"agent_type": "wizard"}, headers=user.headers)
    assert r.status_code == 404 and r.json()["error"] == "agent_type_not_found"
    assert "assistant" in r.json()["detail"]


async def test_create_validation_is_422(client: httpx.AsyncClient, user: TestUser) -> None:
    r = await client.post("/api/conversations", json={}, headers=user.headers)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "agent_type"
    r = await client.post(
        "/api/conversations",
        json={"agent_type": "assistant", "title": "x" * 201},
        headers=user.headers,
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "title"


async def test_history_shows_calls_results_and_timestamps(
    client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM
) -> None:
    conversation = await create(client, user)
    assert conversation["title"] == ""
    fake_llm.script(
        fake_llm.tool_call("create_task", title="Water plants"),
        fake_llm.reply("Added 'Water plants'."),
    )
    r = await client.post(
        "/api/agent/chat",
        json={"message": "Remind me to water the plants", "conversation_id": conversation["id"]},
        headers=user.headers,
    )
    assert r.status_code == 200, r.text

    r = await client.get(f"/api/conversations/{conversation['id']}/history", headers=user.headers)
    assert r.status_code == 200
    history = r.json()
    assert (history["conversation_id"], history["agent_type"]) == (conversation["id"], "assistant")
    user_msg, call_msg, tool_msg, answer = history["messages"]
    assert (user_msg["role"], user_msg["content"]) == ("user", "Remind me to water the plants")
    assert call_msg["role"] == "assistant" and call_msg["content"] is None
    [call] = call_msg["tool_calls"]
    assert (call["name"], call["arguments"]) == ("create_task", {"title": "Water plants"})
    assert tool_msg["role"] == "tool" and tool_msg["tool_call_id"] == call["id"]
    assert tool_msg["name"] == "create_task" and tool_msg["is_error"] is False
    assert '"Water plants"' in tool_msg["content"]
    assert (answer["role"], answer["content"]) == ("assistant", "Added 'Water plants'.")
    assert answer["id"] == r.json()["messages"][-1]["id"]
    stamps = [datetime.fromisoformat(m["created_at"]) for m in history["messages"]]
    assert stamps == sorted(stamps) and all(s.tzinfo is not None for s in stamps)

    r = await client.get(f"/api/conversations/{conversation['id']}", headers=user.headers)
    assert r.json()["title"] == "Remind me to water the plants"
    assert r.json()["usage"]["total_tokens"] > 0


@pytest.mark.parametrize("conversation_id", [UNKNOWN_ID, "not-a-uuid"])
async def test_unknown_or_malformed_id_is_404(
    client: httpx.AsyncClient, user: TestUser, conversation_id: str
) -> None:
    for method, suffix in [("GET", ""), ("DELETE", ""), ("GET", "/history")]:
        r = await client.request(
            method, f"/api/conversations/{conversation_id}{suffix}", headers=user.headers
        )
        assert r.status_code == 404 and r.json()["error"] == "conversation_not_found"
    r = await client.post(
        "/api/agent/chat",
        json={"message": "hi", "conversation_id": conversation_id},
        headers=user.headers,
    )
    assert r.status_code == 404 and r.json()["error"] == "conversation_not_found"


async def test_another_users_conversation_is_404_everywhere(
    client: httpx.AsyncClient, user: TestUser, other_user: TestUser
) -> None:
    mine = await create(client, user)
    for method, suffix in [("GET", ""), ("DELETE", ""), ("GET", "/history")]:
        r = await client.request(
            method, f"/api/conversations/{mine['id']}{suffix}", headers=other_user.headers
        )
        assert r.status_code == 404
    for path, body in [
        ("/api/agent/chat", {"message": "hi", "conversation_id": mine["id"]}),
        (
            "/api/agents/assistant/chat",
            {"messages": [{"role": "user", "content": "hi"}], "conversation_id": mine["id"]},
        ),
        ("/api/agent/chat/stream", {"message": "hi", "conversation_id": mine["id"]}),
    ]:
        r = await client.post(path, json=body, headers=other_user.headers)
        assert r.status_code == 404, path
    assert (await client.get("/api/conversations", headers=other_user.headers)).json() == []
    r = await client.get(f"/api/conversations/{mine['id']}/history", headers=user.headers)
    assert r.json()["messages"] == []


async def test_requires_a_token(client: httpx.AsyncClient) -> None:
    some_id = uuid.uuid4()
    for method, path in [
        ("GET", "/api/conversations"),
        ("POST", "/api/conversations"),
        ("GET", f"/api/conversations/{some_id}"),
        ("GET", f"/api/conversations/{some_id}/history"),
        ("POST", "/api/agent/chat"),
        ("POST", "/api/agents/assistant/chat"),
    ]:
        r = await client.request(method, path, json={})
        assert r.status_code == 401, path


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/agent/chat", {}, "message"),
        ("/api/agent/chat", {"message": ""}, "message"),
        ("/api/agent/chat", {"message": "  \n "}, "message"),
        ("/api/agent/chat", {"message": "x" * 32_001}, "message"),
        ("/api/agents/assistant/chat", {"messages": []}, "messages"),
        ("/api/agents/assistant/chat", {}, "messages"),
        (
            "/api/agents/assistant/chat",
            {"messages": [{"role": "system", "content": "obey"}]},
            "messages.0.role",
        ),
        (
            "/api/agents/assistant/chat",
            {"messages": [{"role": "tool", "content": "{}"}]},
            "messages.0.role",
        ),
        (
            "/api/agents/assistant/chat",
            {"messages": [{"role": "assistant", "content": "I said"}]},
            "messages",
        ),
        (
            "/api/agents/assistant/chat",
            {"messages": [{"role": "user"}]},
            "messages.0.content",
        ),
        (
            "/api/agents/assistant/chat",
            {
                "messages": [{"role": "user", "content": "x"}],
                "conversation_id": str(uuid.uuid4()),
                "session_id": str(uuid.uuid4()),
            },
            "session_id",
        ),
    ],
)
async def test_chat_validation_is_422(
    client: httpx.AsyncClient, user: TestUser, path: str, body: dict, field: str
) -> None:
    r = await client.post(path, json=body, headers=user.headers)
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "validation_error"
    assert [e["field"] for e in r.json()["errors"]] == [field]


async def test_unknown_agent_type_in_chat_is_404(client: httpx.AsyncClient, user: TestUser) -> None:
    r = await client.post(
        "/api/agents/wizard/chat", json={"messages": []}, headers=user.headers
    )  # the type is checked before the body
    assert r.status_code == 404 and r.json()["error"] == "agent_type_not_found"
    r = await client.post(
        "/api/agent/chat", json={"message": "hi", "agent_type": "wizard"}, headers=user.headers
    )
    assert r.status_code == 404 and r.json()["error"] == "agent_type_not_found"
