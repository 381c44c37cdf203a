"""With no LLM_API_KEY, chat answers 503 `llm_not_configured` saying what to set, and stores nothing."""

from __future__ import annotations

import httpx
import pytest

from tests.factories import TestUser


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/agent/chat", {"message": "hi"}),
        ("/api/agent/chat/stream", {"message": "hi"}),
        ("/api/agents/assistant/chat", {"messages": [{"role": "user", "content": "hi"}]}),
        ("/api/agents/coder/chat/stream", {"messages": [{"role": "user", "content": "hi"}]}),
    ],
)
async def test_chat_without_a_key_is_503_naming_the_setting(
    client: httpx.AsyncClient, user: TestUser, path: str, body: dict
) -> None:
    r = await client.post(path, json=body, headers=user.headers)
    assert r.status_code == 503
    assert r.json()["error"] == "llm_not_configured"
    assert "LLM_API_KEY" in r.json()["detail"]
    assert (await client.get("/api/conversations", headers=user.headers)).json() == []


async def test_the_rest_of_the_api_works_without_a_key(
    client: httpx.AsyncClient, user: TestUser
) -> None:
    assert (await client.get("/api/agents", headers=user.headers)).status_code == 200
    r = await client.post(
        "/api/conversations", json={"agent_type": "assistant"}, headers=user.headers
    )
    assert r.status_code == 201
