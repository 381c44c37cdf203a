"""Double texting (a message while a run of the conversation is active) and approvals, through
HTTP: each multitask strategy, approve, deny, a paused run across a restart, history repair."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from agent_service.app import create_app
from agent_service.settings import Settings
from agent_testkit import FakeLLM, parse_sse
from tests.conftest import use_fake_llm
from tests.factories import TestUser
from tests.integration.test_chat_stream import wait_for_run
from tests.integration.test_runs_api import history, new_conversation, run_of, until

SLOW = " ".join(["slow"] * 200)  # 200 chunks 50 ms apart: a run that lasts 10 s


@pytest.fixture
def settings(settings: Settings, fake_llm: FakeLLM) -> Settings:
    settings = use_fake_llm(settings, fake_llm.base_url)
    settings.run_poll_s = 0.2
    return settings


async def tasks_of(client: httpx.AsyncClient, user: TestUser) -> list[str]:
    return [t["title"] for t in (await client.get("/api/tasks", headers=user.headers)).json()]


async def start_busy_run(
    client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM, conversation_id: str
) -> tuple[asyncio.Task[httpx.Response], dict[str, Any]]:
    """A streamed run that made a task and is streaming its answer when this returns."""
    body = {"message": "first", "conversation_id": conversation_id}
    turn = asyncio.create_task(
        client.post("/api/agent/chat/stream", json=body, headers=user.headers)
    )
    run = await run_of(client, user, conversation_id)
    await until(lambda: len(fake_llm.calls) >= 2)
    return turn, run


def last_error(streamed: httpx.Response) -> str:
    last = parse_sse(streamed.text)[-1]
    assert last.event == "error", last
    return str(last.json()["error"])


async def second_message(
    client: httpx.AsyncClient, user: TestUser, conversation_id: str, strategy: str
) -> httpx.Response:
    body = {"message": "second", "conversation_id": conversation_id}
    return await client.post(
        "/api/agent/chat", json={**body, "multitask_strategy": strategy}, headers=user.headers
    )


async def test_reject_is_409_while_a_run_is_active(
    client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM
) -> None:
    fake_llm.script(
        fake_llm.tool_call("create_task", title="first"), fake_llm.reply(SLOW, chunk_delay=0.05)
    )
    conversation_id = await new_conversation(client, user)
    turn, run = await start_busy_run(client, user, fake_llm, conversation_id)

    r = await second_message(client, user, conversation_id, "reject")
    assert r.status_code == 409 and r.json()["error"] == "run_in_progress"

    await client.post(f"/api/runs/{run['id']}/cancel", headers=user.headers)
    assert last_error(await asyncio.wait_for(turn, 5)) == "run_cancelled"
    messages = await history(client, user, conversation_id)
    assert "second" not in [m["content"] for m in messages]


async def test_enqueue_runs_after_the_active_run(
    client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM
) -> None:
    fake_llm.script(
        fake_llm.tool_call("create_task", title="first"),
        fake_llm.reply("first answer", chunk_delay=0.2),
        fake_llm.reply("second answer"),
    )
    conversation_id = await new_conversation(client, user)
    turn, _run = await start_busy_run(client, user, fake_llm, conversation_id)

    second = await second_message(client, user, conversation_id, "enqueue")
    first = await asyncio.wait_for(turn, 5)
    assert parse_sse(first.text)[-1].event == "message.completed"
    assert second.status_code == 200, second.text
    assert second.json()["response"] == "second answer"
    messages = await history(client, user, conversation_id)
    assert [(m["role"], m["content"]) for m in messages if m["role"] != "tool"] == [
        ("user", "first"),
        ("assistant", None),
        ("assistant", "first answer"),
        ("user", "second"),
        ("assistant", "second answer"),
    ]


@pytest.mark.parametrize("strategy", ["interrupt", "rollback"])
async def test_interrupt_keeps_the_active_runs_work_rollback_removes_it(
    client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM, strategy: str
) -> None:
    fake_llm.script(
        fake_llm.tool_call("create_task", title="first"),
        fake_llm.reply(SLOW, chunk_delay=0.05),
        fake_llm.reply("second answer"),
    )
    conversation_id = await new_conversation(client, user)
    turn, run = await start_busy_run(client, user, fake_llm, conversation_id)

    r = await second_message(client, user, conversation_id, strategy)
    assert r.status_code == 200, r.text
    assert r.json()["response"] == "second answer"
    assert last_error(await asyncio.wait_for(turn, 5)) == "run_cancelled"
    assert (await wait_for_run(client, user, run["id"]))["status"] == "cancelled"

    messages = await history(client, user, conversation_id)
    roles = [(m["role"], m["content"]) for m in messages if m["role"] != "tool"]
    if strategy == "interrupt":
        assert await tasks_of(client, user) == ["first"]
        assert roles == [
            ("user", "first"),
            ("assistant", None),
            ("user", "second"),
            ("assistant", "second answer"),
        ]
    else:
        assert await tasks_of(client, user) == []
        assert roles == [("user", "second"), ("assistant", "second answer")]
    sent = [m["role"] for m in fake_llm.calls[2].messages]
    assert sent == (
        ["system", "user", "assistant", "tool", "user"]
        if strategy == "interrupt"
        else ["system", "user"]
    )


async def ask_to_delete(
    client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM
) -> tuple[str, dict[str, Any]]:
    """A task, and a turn that paused asking to delete it; the task id and the JSON reply."""
    r = await client.post("/api/tasks", json={"title": "precious"}, headers=user.headers)
    task_id = r.json()["id"]
    fake_llm.script(
        fake_llm.tool_calls([("list_tasks", {}), ("delete_task", {"task_id": task_id})])
    )
    r = await client.post(
        "/api/agent/chat", json={"message": "delete precious"}, headers=user.headers
    )
    assert r.status_code == 200, r.text
    return task_id, r.json()


async def test_a_destructive_tool_waits_for_approval_then_runs(
    client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM
) -> None:
    task_id, reply = await ask_to_delete(client, user, fake_llm)
    assert reply["status"] == "requires_action" and reply["message_id"] is None
    [pending] = reply["pending_tool_calls"]
    assert pending["name"] == "delete_task" and pending["arguments"] == {"task_id": task_id}
    assert [c["name"] for c in reply["tool_calls"]] == ["list_tasks"]  # the safe call ran
    assert await tasks_of(client, user) == ["precious"]  # nothing deleted without approval
    run = (await client.get(f"/api/runs/{reply['run_id']}", headers=user.headers)).json()
    assert run["status"] == "requires_action" and run["pending_tool_calls"] == [pending]
    r = await client.get(f"/api/runs/{reply['run_id']}/events", headers=user.headers)
    assert "event: run.requires_action" in r.text

    fake_llm.script(fake_llm.reply("Deleted."))
    decisions = [{"tool_call_id": pending["id"], "approve": True}]
    r = await client.post(
        f"/api/runs/{reply['run_id']}/resume", json={"decisions": decisions}, headers=user.headers
    )
    assert r.status_code == 202, r.text
    run = await wait_for_run(client, user, reply["run_id"])
    assert run["status"] == "completed" and run["pending_tool_calls"] == []
    assert await tasks_of(client, user) == []
    assert fake_llm.calls[1].tool_result_json(pending["id"])["deleted"]["task_id"] == task_id
    messages = await history(client, user, reply["conversation_id"])
    assert messages[-1]["content"] == "Deleted."

    r = await client.post(
        f"/api/runs/{reply['run_id']}/resume", json={"decisions": decisions}, headers=user.headers
    )
    assert r.status_code == 409 and r.json()["error"] == "run_not_awaiting_approval"


async def test_a_pause_answers_at_once_not_at_the_next_poll(
    client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM, settings: Settings
) -> None:
    """No wake-up follows a pause: the reply, the stream and the events of a paused run end when
    the pause is read, not when a poll would have found it (here a minute away)."""
    settings.run_poll_s = 60.0
    async with asyncio.timeout(10):
        _task_id, reply = await ask_to_delete(client, user, fake_llm)
        assert reply["status"] == "requires_action"
        r = await client.get(f"/api/runs/{reply['run_id']}/events", headers=user.headers)
        assert parse_sse(r.text)[-1].event == "run.requires_action"

        r = await client.post("/api/tasks", json={"title": "also precious"}, headers=user.headers)
        fake_llm.script(fake_llm.tool_call("delete_task", task_id=r.json()["id"]))
        body = {"message": "delete the other one", "conversation_id": reply["conversation_id"]}
        r = await client.post("/api/agent/chat/stream", json=body, headers=user.headers)
        # the first run still waits: a new message answers its pending call, then asks again
        assert r.status_code == 200, r.text
        assert parse_sse(r.text)[-1].event == "run.requires_action"


async def test_a_denial_reaches_the_model_as_the_tools_result(
    client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM
) -> None:
    _task_id, reply = await ask_to_delete(client, user, fake_llm)
    [pending] = reply["pending_tool_calls"]
    r = await client.post(
        f"/api/runs/{reply['run_id']}/resume",
        json={"decisions": [{"tool_call_id": "someone-else", "approve": True}]},
        headers=user.headers,
    )
    assert r.status_code == 400 and r.json()["error"] == "decisions_mismatch"

    fake_llm.script(fake_llm.reply("Kept it."))
    decisions = [{"tool_call_id": pending["id"], "approve": False, "reason": "I need it"}]
    r = await client.post(
        f"/api/runs/{reply['run_id']}/resume", json={"decisions": decisions}, headers=user.headers
    )
    assert r.status_code == 202
    assert (await wait_for_run(client, user, reply["run_id"]))["status"] == "completed"
    assert await tasks_of(client, user) == ["precious"]
    result = fake_llm.calls[1].tool_result_json(pending["id"])
    assert result["error"] == "denied" and result["reason"] == "I need it"


async def test_a_paused_run_survives_a_restart(
    app: FastAPI, client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM, settings: Settings
) -> None:
    _task_id, reply = await ask_to_delete(client, user, fake_llm)
    [pending] = reply["pending_tool_calls"]
    await app.state.runs.stop()  # this process goes away

    restarted = create_app(settings)
    async with restarted.router.lifespan_context(restarted):
        transport = httpx.ASGITransport(app=restarted)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as again:
            run = (await again.get(f"/api/runs/{reply['run_id']}", headers=user.headers)).json()
            assert run["status"] == "requires_action" and run["pending_tool_calls"] == [pending]
            fake_llm.script(fake_llm.reply("Deleted after the restart."))
            decisions = [{"tool_call_id": pending["id"], "approve": True}]
            r = await again.post(
                f"/api/runs/{reply['run_id']}/resume",
                json={"decisions": decisions},
                headers=user.headers,
            )
            assert r.status_code == 202
            assert (await wait_for_run(again, user, reply["run_id"]))["status"] == "completed"
            assert await tasks_of(again, user) == []


async def test_cancel_while_waiting_for_approval_answers_the_open_call(
    client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM
) -> None:
    _task_id, reply = await ask_to_delete(client, user, fake_llm)
    [pending] = reply["pending_tool_calls"]
    r = await client.post(f"/api/runs/{reply['run_id']}/cancel", headers=user.headers)
    assert r.status_code == 202 and r.json()["status"] == "cancelled"
    assert await tasks_of(client, user) == ["precious"]

    messages = await history(client, user, reply["conversation_id"])  # strict check inside
    [answer] = [m for m in messages if m.get("tool_call_id") == pending["id"]]
    assert '"error": "cancelled"' in answer["content"]
    fake_llm.script(fake_llm.reply("OK."))
    r = await client.post(
        "/api/agent/chat",
        json={"message": "never mind", "conversation_id": reply["conversation_id"]},
        headers=user.headers,
    )
    assert r.status_code == 200
    assert fake_llm.calls[1].tool_result_json(pending["id"])["error"] == "cancelled"


async def test_a_new_message_answers_a_pending_approval(
    client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM
) -> None:
    _task_id, reply = await ask_to_delete(client, user, fake_llm)
    fake_llm.script(fake_llm.reply("Fine, nothing deleted."))
    r = await client.post(
        "/api/agent/chat",
        json={"message": "actually no", "conversation_id": reply["conversation_id"]},
        headers=user.headers,
    )
    assert r.status_code == 200, r.text
    assert (await wait_for_run(client, user, reply["run_id"]))["status"] == "cancelled"
    assert await tasks_of(client, user) == ["precious"]
    await history(client, user, reply["conversation_id"])
