"""A follower is woken for everything a run commits, without waiting for its poll: here the poll
is an hour, so a stream ends in time only if every commit its end depends on woke it. A failed
run's end (not in the driver's memory of its events), a tool step's events and the text streamed
after a step all reach the stream as they commit, in order and without a gap."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import FastAPI

from agent_service.runs.notifier import run_key
from agent_service.settings import Settings
from agent_testkit import FakeLLM, parse_sse
from tests.conftest import use_fake_llm
from tests.factories import TestUser
from tests.integration.test_run_endings import queued_run
from tests.integration.test_run_takeover import called, has_delta, run_row, until
from tests.integration.test_runs_api import new_conversation


@pytest.fixture
def settings(settings: Settings, fake_llm: FakeLLM) -> Settings:
    settings.llm_max_retries = 0
    settings.run_poll_s = 3600.0  # no poll: only wake-ups move a follower
    return use_fake_llm(settings, fake_llm.base_url)


async def stream(client: httpx.AsyncClient, user: TestUser, message: str) -> httpx.Response:
    body = {"message": message}
    return await asyncio.wait_for(
        client.post("/api/agent/chat/stream", json=body, headers=user.headers), timeout=20
    )


def ids_in_order(response: httpx.Response) -> list[str]:
    events = parse_sse(response.text)
    assert [int(e.id or 0) for e in events] == list(range(1, len(events) + 1)), events
    return [e.event for e in events]


async def test_the_end_of_a_failed_run_reaches_its_stream(
    client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM
) -> None:
    fake_llm.script(
        fake_llm.tool_call("create_task", title="Before the failure"), fake_llm.server_error(500)
    )

    names = ids_in_order(await stream(client, user, "Add a task"))

    assert names[0] == "run.created" and "tool.result" in names, names
    assert names[-1] == "error", names


async def test_text_after_a_tool_step_is_stored_while_the_answer_streams(
    app: FastAPI, client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM
) -> None:
    """After the step's commit the text is batched again: a follower elsewhere sees the answer
    grow, not all of it at the end."""
    fake_llm.script(
        fake_llm.tool_call("create_task", title="First"),
        fake_llm.reply(" ".join(["word"] * 12), chunk_delay=0.25),  # 3 s of words
    )
    turn = asyncio.create_task(stream(client, user, "Add a task"))
    await until(lambda: called(fake_llm, 2), "the answer's model call")
    [run_id] = list(app.state.runs.host.tasks)

    await until(lambda: has_delta(app, run_id), "stored a word of the answer")

    assert (await run_row(app, run_id)).status == "running"
    names = ids_in_order(await turn)
    assert names.index("tool.result") < names.index("message.delta"), names
    assert names[-1] == "message.completed", names


async def test_a_cancel_reaches_the_stream_and_the_cancel_answers(
    app: FastAPI, client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM
) -> None:
    """The run's end (cancelled) wakes its stream and the cancel request waiting for it."""
    fake_llm.script(fake_llm.timeout())
    turn = asyncio.create_task(stream(client, user, "Think hard"))
    await until(lambda: called(fake_llm, 1), "the model called")
    [run_id] = list(app.state.runs.host.tasks)

    r = await asyncio.wait_for(
        client.post(f"/api/runs/{run_id}/cancel", headers=user.headers), timeout=20
    )

    assert (r.status_code, r.json()["status"]) == (202, "cancelled"), r.text
    names = ids_in_order(await turn)
    assert names[-1] == "error", names


async def test_a_run_queued_behind_one_that_fails_starts_when_it_fails(
    client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM
) -> None:
    """The failed run's end wakes its conversation's queue: the next run starts then, not at a
    poll (an hour here)."""
    words = fake_llm.reply(" ".join(["word"] * 40), chunk_delay=0.1)
    fake_llm.script(fake_llm.cut_stream(after=20, item=words), fake_llm.reply("Second answer."))
    conversation_id = await new_conversation(client, user)
    body = {"message": "first", "conversation_id": conversation_id}
    first = asyncio.create_task(
        client.post("/api/agent/chat/stream", json=body, headers=user.headers)
    )
    await until(lambda: called(fake_llm, 1), "the first run's model call")
    body = {
        "message": "second",
        "conversation_id": conversation_id,
        "multitask_strategy": "enqueue",
    }
    second = asyncio.create_task(client.post("/api/agent/chat", json=body, headers=user.headers))
    await queued_run(client, user, conversation_id)  # queued while the first still streams

    r = await asyncio.wait_for(second, timeout=20)

    assert r.status_code == 200, r.text
    assert r.json()["response"] == "Second answer."
    names = ids_in_order(await asyncio.wait_for(first, timeout=20))
    assert names[-1] == "error", names


async def test_a_tool_steps_commit_wakes_its_followers_while_the_model_still_thinks(
    app: FastAPI, client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM, settings: Settings
) -> None:
    """Between a tool step and the model's next words nothing else wakes a follower: the step's
    commit must, or a stream shows the tool's result only once the answer begins."""
    settings.llm_timeout_s = 30.0
    fake_llm.script(
        fake_llm.tool_call("create_task", title="Shown at once", chunk_delay=0.2),
        fake_llm.timeout(),  # the model thinks until the run is cancelled
    )
    turn = asyncio.create_task(stream(client, user, "Add a task"))
    await until(lambda: called(fake_llm, 1), "the first model call")
    [run_id] = list(app.state.runs.host.tasks)
    with app.state.runs.notifier.watch(run_key(run_id)) as woken:
        await asyncio.wait_for(woken.wait(), timeout=10)

    assert len(fake_llm.calls) <= 2  # woken by the step, not by an answer
    assert [t["title"] for t in (await client.get("/api/tasks", headers=user.headers)).json()] == [
        "Shown at once"
    ]
    r = await client.post(f"/api/runs/{run_id}/cancel", headers=user.headers)
    assert r.status_code == 202, r.text
    names = ids_in_order(await turn)
    assert "tool.result" in names and names[-1] == "error", names
