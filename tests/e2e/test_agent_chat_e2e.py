"""A chat with a tool call, streamed, through `agent-service serve` as a process against the kit's
fake LLM served on 127.0.0.1 (on PostgreSQL when TEST_DATABASE_URL is set)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from agent_testkit import FakeLLMServer, iter_sse
from tests.service_process import running_service

pytestmark = pytest.mark.e2e


@pytest.fixture
def service(
    tmp_path: Path, isolated_database_url: str, fake_llm_server: FakeLLMServer
) -> Iterator[str]:
    env = {
        "DATA_DIR": str(tmp_path / "var"),
        "DATABASE_URL": isolated_database_url,
        "ENVIRONMENT": "production",
        "JWT_SECRET": "e2e-" + "0123456789abcdef" * 4,
        "ARGON2_TIME_COST": "1",
        "ARGON2_MEMORY_KIB": "1024",
        "LLM_BASE_URL": fake_llm_server.base_url,
        "LLM_API_KEY": "e2e-llm-key",
        "LLM_MODEL": "fake-model",
        "LLM_TIMEOUT_S": "10",
    }
    with running_service(env, log_path=tmp_path / "service.log") as base_url:
        yield base_url


def bearer(client: httpx.Client, email: str) -> dict[str, str]:
    password = "e2e-password-1"
    r = client.post("/api/auth/register", json={"email": email, "password": password})
    assert r.status_code == 201, r.text
    r = client.post("/api/auth/login", json={"email": email, "password": password})
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def test_streamed_chat_with_a_tool_call(service: str, fake_llm_server: FakeLLMServer) -> None:
    fake_llm_server.script(
        fake_llm_server.tool_call("create_task", title="Ship the release", priority="high"),
        fake_llm_server.reply("Done: 'Ship the release' is on your list."),
    )
    with httpx.Client(base_url=service, timeout=10) as client:
        headers = bearer(client, "agent-e2e@example.com")
        with client.stream(
            "POST",
            "/api/agent/chat/stream",
            json={"message": "Remind me to ship the release, it is urgent"},
            headers=headers,
        ) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            events = list(iter_sse(response))

        assert events[0].event == "run.created"
        assert events[0].json()["run_id"] == response.headers["X-Run-Id"]
        assert [e.id for e in events] == [str(seq) for seq in range(1, len(events) + 1)]
        events = events[1:]
        names = [e.event for e in events]
        assert names[:2] == ["tool.call", "tool.result"]
        assert set(names[2:-1]) == {"message.delta"} and names[-1] == "message.completed"
        completed = events[-1].json()
        assert completed["response"] == "Done: 'Ship the release' is on your list."
        assert "".join(e.json()["delta"] for e in events[2:-1]) == completed["response"]

        [task] = client.get("/api/tasks", headers=headers).json()
        assert (task["title"], task["priority"]) == ("Ship the release", "high")
        assert events[1].json()["result"]["task"]["id"] == task["id"]

        history = client.get(
            f"/api/conversations/{completed['conversation_id']}/history", headers=headers
        ).json()
        assert [m["role"] for m in history["messages"]] == [
            "user",
            "assistant",
            "tool",
            "assistant",
        ]

    sent = fake_llm_server.calls
    assert len(sent) == 2 and all(call.stream for call in sent)
    assert sent[0].headers["authorization"] == "Bearer e2e-llm-key"
    assert sent[1].tool_result("create_task")
