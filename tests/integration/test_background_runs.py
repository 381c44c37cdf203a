"""Assistants in runs: chat and background runs with `assistant_id` (the version recorded, the
assistant's instructions, model and sampling sent), client-side function tools answered through
`/tool_outputs`, join with a deadline, signed completion webhooks, refused webhook targets and
ownership."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from standardwebhooks import Webhook

from agent_service.settings import Settings
from agent_testkit import FakeLLM
from tests.conftest import use_fake_llm
from tests.factories import TestUser
from tests.webhook_receiver import webhook_receiver

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city, looked up by the client.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


@pytest.fixture
def settings(settings: Settings, fake_llm: FakeLLM) -> Settings:
    settings = use_fake_llm(settings, fake_llm.base_url)
    settings.run_poll_s = 0.2
    return settings


async def make_assistant(client: httpx.AsyncClient, user: TestUser, **fields: Any) -> str:
    body = {"name": "Helper", "instructions": "You are Helper.", **fields}
    r = await client.post("/api/assistants", json=body, headers=user.headers)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def background(
    client: httpx.AsyncClient, user: TestUser, assistant_id: str, text: str = "Go", **extra: Any
) -> httpx.Response:
    body = {"assistant_id": assistant_id, "input": [{"role": "user", "content": text}], **extra}
    return await client.post("/api/runs", json=body, headers=user.headers)


async def wait(client: httpx.AsyncClient, user: TestUser, run_id: str) -> dict[str, Any]:
    r = await client.get(f"/api/runs/{run_id}/wait?timeout_s=15", headers=user.headers)
    assert r.status_code == 200, r.text
    run: dict[str, Any] = r.json()
    return run


async def test_chat_with_an_assistant_uses_its_version_instructions_model_and_sampling(
    client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM
) -> None:
    assistant_id = await make_assistant(
        client, user, model="my-model", settings={"temperature": 0.3, "max_tokens": 50}
    )
    r = await client.patch(
        f"/api/assistants/{assistant_id}",
        json={"instructions": "You are Helper v2."},
        headers=user.headers,
    )
    assert r.json()["version"] == 2
    fake_llm.script(fake_llm.reply("v2 here."), fake_llm.reply("v1 here."))
    r = await client.post(
        "/api/agent/chat",
        json={"message": "Hi", "assistant_id": assistant_id},
        headers=user.headers,
    )
    assert r.status_code == 200, r.text
    assert r.json()["response"] == "v2 here."
    request = fake_llm.calls[0].request
    assert request["messages"][0] == {"role": "system", "content": "You are Helper v2."}
    assert (request["model"], request["temperature"], request["max_tokens"]) == (
        "my-model",
        0.3,
        50,
    )
    run = (await client.get(f"/api/runs/{r.headers['X-Run-Id']}", headers=user.headers)).json()
    assert (run["assistant_id"], run["assistant_version"]) == (assistant_id, 2)

    body = {"message": "Again", "assistant_id": assistant_id, "assistant_version": 1}
    r = await client.post("/api/agent/chat", json=body, headers=user.headers)
    assert r.json()["response"] == "v1 here."
    assert fake_llm.calls[1].request["messages"][0]["content"] == "You are Helper."
    run = (await client.get(f"/api/runs/{r.headers['X-Run-Id']}", headers=user.headers)).json()
    assert run["assistant_version"] == 1


async def test_chat_by_agent_type_runs_the_built_in_assistant(
    client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM
) -> None:
    fake_llm.script(fake_llm.tool_call("create_task", title="Ship"), fake_llm.reply("Done."))
    r = await client.post(
        "/api/agent/chat",
        json={"message": "Add Ship", "agent_type": "assistant"},
        headers=user.headers,
    )
    assert r.status_code == 200 and r.json()["tool_calls"][0]["name"] == "create_task"
    run = (await client.get(f"/api/runs/{r.headers['X-Run-Id']}", headers=user.headers)).json()
    assert (run["assistant_id"], run["assistant_version"]) == ("assistant", 1)
    assert "temperature" not in fake_llm.calls[0].request


async def test_a_background_run_answers_at_once_and_is_joined(
    client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM
) -> None:
    fake_llm.script(fake_llm.reply("Background answer.", chunk_delay=0.05))
    r = await background(client, user, "assistant")
    assert r.status_code == 202, r.text
    assert r.json()["status"] in ("queued", "running") and r.json()["output"] is None
    run = await wait(client, user, r.json()["id"])
    assert run["status"] == "completed" and run["output"] == "Background answer."
    assert run["assistant_id"] == "assistant" and run["usage"]["total_tokens"] > 0


async def test_wait_returns_the_run_as_it_is_when_the_deadline_passes(
    client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM
) -> None:
    fake_llm.script(fake_llm.timeout())
    r = await background(client, user, "assistant")
    run_id = r.json()["id"]
    r = await client.get(f"/api/runs/{run_id}/wait?timeout_s=0.3", headers=user.headers)
    assert r.status_code == 200 and r.json()["status"] == "running"
    r = await client.post(f"/api/runs/{run_id}/cancel", headers=user.headers)
    assert r.status_code == 202
    assert (await wait(client, user, run_id))["status"] == "cancelled"


async def test_a_client_side_function_pauses_the_run_until_its_output_is_posted(
    client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM
) -> None:
    assistant_id = await make_assistant(client, user, tools=[WEATHER])
    fake_llm.script(
        fake_llm.tool_call("get_weather", city="Paris"), fake_llm.reply("Sunny in Paris.")
    )
    r = await background(client, user, assistant_id, "Weather in Paris?")
    run = await wait(client, user, r.json()["id"])
    assert run["status"] == "requires_action"
    action = run["required_action"]
    assert action["type"] == "submit_tool_outputs"
    [call] = action["tool_calls"]
    assert call["name"] == "get_weather" and call["arguments"] == {"city": "Paris"}
    wrong = {"tool_outputs": [{"tool_call_id": "nope", "output": "x"}]}
    r = await client.post(f"/api/runs/{run['id']}/tool_outputs", json=wrong, headers=user.headers)
    assert r.status_code == 400 and r.json()["error"] == "not_a_client_tool_call"

    output = {"tool_outputs": [{"tool_call_id": call["id"], "output": '{"sky": "sunny"}'}]}
    r = await client.post(f"/api/runs/{run['id']}/tool_outputs", json=output, headers=user.headers)
    assert r.status_code == 202, r.text
    done = await wait(client, user, run["id"])
    assert done["status"] == "completed" and done["output"] == "Sunny in Paris."
    tool_message = fake_llm.calls[1].request["messages"][-1]
    assert tool_message["role"] == "tool" and json.loads(tool_message["content"]) == {
        "sky": "sunny"
    }
    r = await client.post(f"/api/runs/{run['id']}/tool_outputs", json=output, headers=user.headers)
    assert r.status_code == 409 and r.json()["error"] == "run_not_awaiting_approval"


async def test_a_client_function_resumed_without_an_output_tells_the_model_so(
    client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM
) -> None:
    """An approval through /resume answers a client-side call without running anything here:
    the model hears that the client sent no output."""
    assistant_id = await make_assistant(client, user, tools=[WEATHER])
    fake_llm.script(
        fake_llm.tool_call("get_weather", city="Paris"), fake_llm.reply("I could not check.")
    )
    r = await background(client, user, assistant_id, "Weather in Paris?")
    run = await wait(client, user, r.json()["id"])
    [call] = run["required_action"]["tool_calls"]

    decisions = {"decisions": [{"tool_call_id": call["id"], "approve": True}]}
    r = await client.post(f"/api/runs/{run['id']}/resume", json=decisions, headers=user.headers)

    assert r.status_code == 202, r.text
    assert (await wait(client, user, run["id"]))["status"] == "completed"
    assert fake_llm.calls[1].tool_result_json(call["id"])["error"] == "no_output"


async def test_a_client_function_called_with_invalid_arguments_does_not_pause(
    client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM
) -> None:
    assistant_id = await make_assistant(client, user, tools=[WEATHER])
    fake_llm.script(
        fake_llm.tool_call("get_weather", unchecked=True, town=3), fake_llm.reply("Sorry.")
    )
    r = await background(client, user, assistant_id)
    run = await wait(client, user, r.json()["id"])
    assert run["status"] == "completed"
    result = json.loads(fake_llm.calls[1].request["messages"][-1]["content"])
    assert result["error"] == "invalid_arguments"


async def test_a_completion_webhook_is_signed_and_carries_status_output_and_usage(
    app: FastAPI, client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM
) -> None:
    app.state.settings.webhook_allow_private = True  # the receiver is on 127.0.0.1
    async with webhook_receiver() as receiver:
        r = await background(client, user, "assistant", webhook=receiver.url)
        assert r.status_code == 400 and r.json()["error"] == "webhook_secret_missing"
        secret = (await client.post("/api/webhooks/secret", headers=user.headers)).json()["secret"]
        fake_llm.script(fake_llm.reply("Hooked."))
        r = await background(client, user, "assistant", webhook=receiver.url)
        assert r.status_code == 202, r.text
        (got,) = await receiver.wait_for(1)
    payload = Webhook(secret).verify(got.body, got.headers)
    assert payload["type"] == "run.completed"
    data = payload["data"]
    assert data["id"] == r.json()["id"] and data["status"] == "completed"
    assert data["output"] == "Hooked." and data["usage"]["total_tokens"] > 0


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:9/hook", "http://169.254.169.254/latest", "http://localhost:9/"]
)
async def test_a_webhook_to_an_internal_address_is_refused(
    client: httpx.AsyncClient, user: TestUser, url: str
) -> None:
    await client.post("/api/webhooks/secret", headers=user.headers)
    r = await background(client, user, "assistant", webhook=url)
    assert r.status_code == 400 and r.json()["error"] == "webhook_target_refused"


async def test_another_user_can_neither_run_nor_chat_with_nor_version_an_assistant(
    client: httpx.AsyncClient, user: TestUser, other_user: TestUser
) -> None:
    assistant_id = await make_assistant(client, user)
    r = await background(client, other_user, assistant_id)
    assert r.status_code == 404 and r.json()["error"] == "assistant_not_found"
    body = {"message": "Hi", "assistant_id": assistant_id}
    r = await client.post("/api/agent/chat", json=body, headers=other_user.headers)
    assert r.status_code == 404
    r = await client.get(f"/api/assistants/{assistant_id}/versions", headers=other_user.headers)
    assert r.status_code == 404
    r = await client.patch(
        f"/api/assistants/{assistant_id}", json={"name": "Mine"}, headers=other_user.headers
    )
    assert r.status_code == 404


async def test_a_deleted_version_or_a_conversation_of_another_assistant_is_refused(
    client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM
) -> None:
    assistant_id = await make_assistant(client, user)
    r = await background(client, user, assistant_id, assistant_version=7)
    assert r.status_code == 404
    fake_llm.script(fake_llm.reply("One."))
    first = await wait(client, user, (await background(client, user, "assistant")).json()["id"])
    r = await background(client, user, assistant_id, conversation_id=first["conversation_id"])
    assert r.status_code == 400 and r.json()["error"] == "agent_type_mismatch"
