"""Every row of DESIGN.md's "LLM failures" table, as a client of the service sees it, and the
conversation left consistent after each failure (before, between and after tool calls)."""

from __future__ import annotations

import httpx
import pytest

from agent_service.settings import Settings
from agent_testkit import FakeLLM
from tests.conftest import use_fake_llm
from tests.factories import TestUser


@pytest.fixture
def settings(settings: Settings, fake_llm: FakeLLM) -> Settings:
    settings = use_fake_llm(settings, fake_llm.base_url)
    settings.llm_max_retries = 2
    return settings


async def post_chat(
    client: httpx.AsyncClient, user: TestUser, message: str = "Hi", **extra: object
) -> httpx.Response:
    return await client.post(
        "/api/agent/chat", json={"message": message, **extra}, headers=user.headers
    )


async def history_roles(client: httpx.AsyncClient, user: TestUser, conversation_id: str) -> list:
    r = await client.get(f"/api/conversations/{conversation_id}/history", headers=user.headers)
    return [m["role"] for m in r.json()["messages"]]


async def test_429_then_success_honours_retry_after(
    client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM, llm_waits: list[float]
) -> None:
    fake_llm.script(fake_llm.rate_limited(retry_after=1.5), fake_llm.reply("Hello."))
    r = await post_chat(client, user)
    assert r.status_code == 200 and r.json()["response"] == "Hello."
    assert len(fake_llm.calls) == 2
    assert llm_waits == [1.5]


async def test_429_exhausted_is_429_with_retry_after(
    client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM, llm_waits: list[float]
) -> None:
    fake_llm.script(*[fake_llm.rate_limited(retry_after=2)] * 3)
    r = await post_chat(client, user)
    assert r.status_code == 429
    assert r.json()["error"] == "llm_rate_limited"
    assert r.headers["retry-after"] == "2"
    assert len(fake_llm.calls) == 3 and llm_waits == [2, 2]


async def test_retry_after_beyond_the_cap_is_not_waited_for(
    client: httpx.AsyncClient,
    user: TestUser,
    fake_llm: FakeLLM,
    llm_waits: list[float],
    settings: Settings,
) -> None:
    settings.llm_retry_max_wait_s = 10
    fake_llm.script(fake_llm.rate_limited(retry_after=60))
    r = await post_chat(client, user)
    assert r.status_code == 429 and r.headers["retry-after"] == "60"
    assert len(fake_llm.calls) == 1 and llm_waits == []


async def test_timeout_is_retried_then_503(
    client: httpx.AsyncClient,
    user: TestUser,
    fake_llm: FakeLLM,
    llm_waits: list[float],
    settings: Settings,
) -> None:
    settings.llm_timeout_s = 0.5  # each attempt must reach the fake model, also on a busy box
    fake_llm.script(*[fake_llm.timeout()] * 3)
    r = await post_chat(client, user)
    assert r.status_code == 503
    assert r.json()["error"] == "llm_timeout"
    assert "LLM_TIMEOUT_S" in r.json()["detail"]
    assert len(fake_llm.calls) == 3 and len(llm_waits) == 2


@pytest.mark.parametrize("fault", ["server_error", "disconnect"])
async def test_5xx_and_connection_errors_are_retried_then_503(
    client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM, llm_waits: list[float], fault: str
) -> None:
    fake_llm.script(*[getattr(fake_llm, fault)()] * 3)
    r = await post_chat(client, user)
    assert r.status_code == 503 and r.json()["error"] == "llm_unavailable"
    assert len(fake_llm.calls) == 3


async def test_5xx_then_success(
    client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM, llm_waits: list[float]
) -> None:
    fake_llm.script(fake_llm.server_error(502), fake_llm.reply("Recovered."))
    r = await post_chat(client, user)
    assert r.status_code == 200 and r.json()["response"] == "Recovered."
    assert len(llm_waits) == 1 and 0 < llm_waits[0] <= 0.5


@pytest.mark.parametrize(
    "body", ['{"choices": [{"message": ', '{"object": "list", "data": []}', "<html>oops</html>"]
)
async def test_200_that_is_not_a_completion_is_500_and_not_retried(
    client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM, llm_waits: list[float], body: str
) -> None:
    fake_llm.script(fake_llm.malformed(body))
    r = await post_chat(client, user)
    assert r.status_code == 500 and r.json()["error"] == "llm_bad_response"
    assert len(fake_llm.calls) == 1 and llm_waits == []


async def test_provider_refusing_our_key_is_502(
    client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM, llm_waits: list[float]
) -> None:
    fake_llm.script(fake_llm.server_error(401))
    r = await post_chat(client, user)
    assert r.status_code == 502 and r.json()["error"] == "llm_rejected"
    assert "LLM_API_KEY" in r.json()["detail"]
    assert "test-llm-key" not in r.text


async def test_quota_exhausted_429_is_not_retried(
    client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM, llm_waits: list[float]
) -> None:
    body = '{"error": {"message": "You exceeded your quota.", "type": "insufficient_quota", "param": null, "code": "insufficient_quota"}}'
    fake_llm.script(fake_llm.malformed(body, status=429))
    r = await post_chat(client, user)
    assert r.status_code == 503 and r.json()["error"] == "llm_unavailable"
    assert "quota" in r.json()["detail"] and len(fake_llm.calls) == 1


async def test_failure_before_any_tool_then_the_next_message_continues(
    client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM, llm_waits: list[float]
) -> None:
    fake_llm.script(*[fake_llm.server_error()] * 3, fake_llm.reply("Back."))
    assert (await post_chat(client, user, "first")).status_code == 503
    r = await post_chat(client, user, "second")
    assert r.status_code == 200
    assert [(m["role"], m["content"]) for m in fake_llm.calls[3].messages[1:]] == [
        ("user", "first"),
        ("user", "second"),
    ]


async def test_failure_between_two_tool_steps_then_the_next_message_continues(
    client: httpx.AsyncClient,
    user: TestUser,
    fake_llm: FakeLLM,
    llm_waits: list[float],
    settings: Settings,
) -> None:
    settings.llm_timeout_s = 0.5  # each attempt must reach the fake model, also on a busy box
    fake_llm.script(
        fake_llm.tool_call("create_task", title="Step one"),
        *[fake_llm.timeout()] * 3,
    )
    r = await post_chat(client, user, "Do two things")
    assert r.status_code == 503
    r = await client.get("/api/tasks", headers=user.headers)
    assert [t["title"] for t in r.json()] == ["Step one"]

    fake_llm.script(
        fake_llm.tool_call("create_task", title="Step two"),
        fake_llm.reply("Both done."),
    )
    r = await post_chat(client, user, "Please continue")
    assert r.status_code == 200 and r.json()["response"] == "Both done."
    conversation_id = r.json()["conversation_id"]

    sent = fake_llm.calls[4].messages
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "tool", "user"]
    assert sent[2]["tool_calls"][0]["id"] == sent[3]["tool_call_id"]
    assert await history_roles(client, user, conversation_id) == [
        "user",
        "assistant",
        "tool",
        "user",
        "assistant",
        "tool",
        "assistant",
    ]
    r = await client.get("/api/tasks", headers=user.headers)
    assert [t["title"] for t in r.json()] == ["Step one", "Step two"]


async def test_failure_after_the_tools_keeps_their_effects(
    client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM, llm_waits: list[float]
) -> None:
    fake_llm.script(
        fake_llm.tool_calls([("create_task", {"title": "a"}), ("create_task", {"title": "b"})]),
        fake_llm.malformed(),
    )
    r = await post_chat(client, user, "two tasks")
    assert r.status_code == 500
    r = await client.get("/api/tasks", headers=user.headers)
    assert [t["title"] for t in r.json()] == ["a", "b"]
    fake_llm.script(fake_llm.reply("Anything else?"))
    r = await post_chat(client, user, "thanks")
    assert r.status_code == 200
    assert [m["role"] for m in fake_llm.calls[2].messages] == [
        "system",
        "user",
        "assistant",
        "tool",
        "tool",
        "user",
    ]


async def test_usage_is_recorded_per_message_and_summed_per_conversation(
    client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM
) -> None:
    fake_llm.script(
        fake_llm.tool_call("create_task", title="t"),
        fake_llm.reply("Done."),
        fake_llm.reply("Bye."),
    )
    first = (await post_chat(client, user, "add t")).json()
    second = (await post_chat(client, user, "bye")).json()
    r = await client.get(f"/api/conversations/{first['conversation_id']}", headers=user.headers)
    total = r.json()["usage"]
    assert total["prompt_tokens"] == (
        first["usage"]["prompt_tokens"] + second["usage"]["prompt_tokens"]
    )
    assert total["total_tokens"] == first["usage"]["total_tokens"] + second["usage"]["total_tokens"]

    r = await client.get(
        f"/api/conversations/{first['conversation_id']}/history", headers=user.headers
    )
    per_message = [m["usage"] for m in r.json()["messages"]]
    assert [u is not None for u in per_message] == [False, True, False, True, False, True]
    assert sum(u["total_tokens"] for u in per_message if u) == total["total_tokens"]
