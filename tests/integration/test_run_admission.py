"""Admission of a run (`runs/admission.py`), as the run a request gets back shows it: interrupt
and rollback end the active run before the new one starts, so the new one runs at once instead
of queueing behind a run being cancelled; a rolled-back run's effects are undone once however
often it is rolled back; a resume answers with the run running, is 503 when the process has no
room, and two resumes at once drive the run once."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from agent_service.settings import Settings
from agent_testkit import FakeLLM, parse_sse
from tests.conftest import use_fake_llm
from tests.factories import TestUser
from tests.integration.test_background_runs import background as start_background
from tests.integration.test_chat_stream import wait_for_run
from tests.integration.test_runs_api import until
from tests.integration.test_runs_faults_outage import get
from tests.integration.test_runs_multitask import SLOW, ask_to_delete, tasks_of


@pytest.fixture
def settings(settings: Settings, fake_llm: FakeLLM) -> Settings:
    settings = use_fake_llm(settings, fake_llm.base_url)
    settings.run_poll_s = 0.2
    return settings


async def background(
    client: httpx.AsyncClient, user: TestUser, text: str, **extra: Any
) -> dict[str, Any]:
    """A background run of the built-in assistant, accepted."""
    r = await start_background(client, user, "assistant", text, **extra)
    assert r.status_code == 202, r.text
    run: dict[str, Any] = r.json()
    return run


async def get_run(client: httpx.AsyncClient, user: TestUser, run_id: str) -> dict[str, Any]:
    run: dict[str, Any] = await get(client, user, f"/api/runs/{run_id}")
    return run


async def busy_run(client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM) -> dict[str, Any]:
    """A run that made a task in its first step and is streaming a 10 s answer."""
    fake_llm.script(
        fake_llm.tool_call("create_task", title="first"), fake_llm.reply(SLOW, chunk_delay=0.05)
    )
    run = await background(client, user, "first")
    await until(lambda: len(fake_llm.calls) >= 2)
    return run


@pytest.mark.parametrize("strategy", ["interrupt", "rollback"])
async def test_the_new_run_starts_at_once_once_the_active_one_has_ended(
    client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM, strategy: str
) -> None:
    first = await busy_run(client, user, fake_llm)
    fake_llm.script(fake_llm.reply("second answer"))

    second = await background(
        client,
        user,
        "second",
        conversation_id=first["conversation_id"],
        multitask_strategy=strategy,
    )

    assert second["status"] == "running", second  # not queued behind a run being cancelled
    assert (await get_run(client, user, first["id"]))["status"] == "cancelled"
    assert (await wait_for_run(client, user, second["id"]))["status"] == "completed"
    assert await tasks_of(client, user) == (["first"] if strategy == "interrupt" else [])


async def test_enqueue_queues_the_new_run_behind_the_active_one(
    client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM
) -> None:
    first = await busy_run(client, user, fake_llm)

    second = await background(
        client,
        user,
        "second",
        conversation_id=first["conversation_id"],
        multitask_strategy="enqueue",
    )

    assert second["status"] == "queued", second
    assert (await get_run(client, user, first["id"]))["status"] == "running"
    await client.post(f"/api/runs/{first['id']}/cancel", headers=user.headers)
    fake_llm.script(fake_llm.reply("second answer"))
    assert (await wait_for_run(client, user, second["id"]))["status"] == "completed"
    r = await client.get(f"/api/runs/{second['id']}/events", headers=user.headers)
    events = parse_sse(r.text)  # a run claimed after it queued: its ids go on without a gap
    assert [int(e.id or 0) for e in events] == list(range(1, len(events) + 1)), events
    assert events[-1].json()["response"] == "second answer"


async def test_a_run_rolled_back_twice_is_undone_once(
    client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM
) -> None:
    """The second rollback finds nothing left to undo: it must not restore the title the run
    had changed a second time, over the person's own change since."""
    r = await client.post("/api/tasks", json={"title": "a"}, headers=user.headers)
    task_id = r.json()["id"]
    fake_llm.script(
        fake_llm.tool_call("update_task", task_id=task_id, title="b"), fake_llm.reply("Renamed.")
    )
    run = await background(client, user, "rename it")
    assert (await wait_for_run(client, user, run["id"]))["status"] == "completed"
    assert await tasks_of(client, user) == ["b"]

    r = await client.post(f"/api/runs/{run['id']}/rollback", headers=user.headers)
    assert r.status_code == 200, r.text
    assert await tasks_of(client, user) == ["a"]
    r = await client.patch(f"/api/tasks/{task_id}", json={"title": "c"}, headers=user.headers)
    assert r.status_code == 200, r.text

    r = await client.post(f"/api/runs/{run['id']}/rollback", headers=user.headers)

    assert r.status_code == 200, r.text
    assert await tasks_of(client, user) == ["c"]


async def test_a_resume_answers_with_the_run_running(
    client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM
) -> None:
    _task_id, reply = await ask_to_delete(client, user, fake_llm)
    [pending] = reply["pending_tool_calls"]
    fake_llm.script(fake_llm.reply("Deleted."))

    r = await client.post(
        f"/api/runs/{reply['run_id']}/resume",
        json={"decisions": [{"tool_call_id": pending["id"], "approve": True}]},
        headers=user.headers,
    )

    assert r.status_code == 202, r.text
    assert r.json()["status"] == "running"
    assert (await wait_for_run(client, user, reply["run_id"]))["status"] == "completed"


async def test_a_resume_without_room_is_503_and_the_run_still_waits(
    client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM, settings: Settings
) -> None:
    _task_id, reply = await ask_to_delete(client, user, fake_llm)
    [pending] = reply["pending_tool_calls"]
    settings.max_active_turns = 1
    busy = await busy_run(client, user, fake_llm)  # the one turn this process may drive

    r = await client.post(
        f"/api/runs/{reply['run_id']}/resume",
        json={"decisions": [{"tool_call_id": pending["id"], "approve": True}]},
        headers=user.headers,
    )

    assert r.status_code == 503 and r.json()["error"] == "overloaded", r.text
    assert (await get_run(client, user, reply["run_id"]))["status"] == "requires_action"
    assert await tasks_of(client, user) == ["precious", "first"]
    await client.post(f"/api/runs/{busy['id']}/cancel", headers=user.headers)


async def test_two_resumes_at_once_drive_the_run_once(
    client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM
) -> None:
    _task_id, reply = await ask_to_delete(client, user, fake_llm)
    [pending] = reply["pending_tool_calls"]
    fake_llm.script(fake_llm.reply("Deleted."))  # a second drive would find no answer left
    body = {"decisions": [{"tool_call_id": pending["id"], "approve": True}]}
    url = f"/api/runs/{reply['run_id']}/resume"

    answers = await asyncio.gather(
        *(client.post(url, json=body, headers=user.headers) for _ in "ab")
    )

    assert sorted(r.status_code for r in answers) == [202, 409], [r.text for r in answers]
    [refused] = [r for r in answers if r.status_code == 409]
    assert refused.json()["error"] == "run_not_awaiting_approval"
    assert (await wait_for_run(client, user, reply["run_id"]))["status"] == "completed"
    assert len(fake_llm.calls) == 2  # the pause's call and one resume's
