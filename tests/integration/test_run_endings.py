"""How a run ends, on the paths the everyday tests do not take: a token count the database refuses
with the answer, a queued run cancelled before it starts, a run whose end waits for a database
that was away. Each checks what a caller sees: the answer, the history, the run's events in order
with its end last, and what the logs tell an operator.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from agent_service.quotas.models import TokenUsage
from agent_service.settings import Settings
from agent_testkit import FakeLLM, parse_sse
from tests.conftest import use_fake_llm
from tests.database import inserts_refused
from tests.factories import TestUser
from tests.integration.test_runs_api import events_of, history, new_conversation, run_of, until

ANSWER = "An answer stored whatever its count does."
SLOW = " ".join(["slow"] * 200)  # 200 chunks 50 ms apart: a run that lasts 10 s


@pytest.fixture
def settings(settings: Settings, fake_llm: FakeLLM) -> Settings:
    settings = use_fake_llm(settings, fake_llm.base_url)
    settings.run_poll_s = 0.2
    return settings


def logged(caplog: pytest.LogCaptureFixture, text: str) -> int:
    return sum(text in r.getMessage() for r in caplog.records)


async def tokens_counted(app: FastAPI, user: TestUser) -> int:
    async with app.state.sessionmaker() as session:
        rows = await session.scalars(select(TokenUsage.tokens).where(TokenUsage.user_id == user.id))
        return sum(rows)


async def test_a_count_the_database_refuses_leaves_the_answer_stored_at_the_next_attempt(
    app: FastAPI,
    client: httpx.AsyncClient,
    user: TestUser,
    fake_llm: FakeLLM,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The tokens go in the answer's transaction; when the database refuses them, the answer is
    stored alone at once (the conversation read again after the rollback), then the count is
    tried once more on its own. Refused again here, it is logged and never fails the run."""
    caplog.set_level(logging.WARNING, logger="agent_service.runs")
    fake_llm.script(fake_llm.reply(ANSWER))

    async with inserts_refused(app.state.engine, "token_usage"):
        r = await asyncio.wait_for(
            client.post("/api/agent/chat", json={"message": "Hi"}, headers=user.headers), 15
        )

    assert r.status_code == 200, r.text
    assert r.json()["response"] == ANSWER
    assert r.json()["usage"]["total_tokens"] > 0
    assert logged(caplog, "could not count the usage of run") == 1
    [refused] = [r for r in caplog.records if "could not count the usage" in r.getMessage()]
    assert refused.exc_info and refused.exc_info[1] is not None  # the database's reason
    assert logged(caplog, "could not store the answer") == 0  # the next attempt stored it
    assert logged(caplog, "could not record the usage of a run") == 1  # the count tried again
    [warning] = [r for r in caplog.records if "could not record the usage" in r.getMessage()]
    assert warning.exc_info and warning.exc_info[1] is not None  # the database's reason
    assert await tokens_counted(app, user) == 0
    run = (await client.get(f"/api/runs/{r.json()['run_id']}", headers=user.headers)).json()
    assert run["status"] == "completed"
    messages = await history(client, user, r.json()["conversation_id"])
    assert [m["content"] for m in messages] == ["Hi", ANSWER]
    events = await events_of(client, user, r.json()["run_id"])
    assert [int(e.id or 0) for e in events] == list(range(1, len(events) + 1))
    assert events[-1].event == "message.completed"
    assert events[-1].json()["response"] == ANSWER

    fake_llm.script(fake_llm.reply("Counted again."))  # the fault gone, counting works again
    body = {"message": "And now?", "conversation_id": r.json()["conversation_id"]}
    again = await client.post("/api/agent/chat", json=body, headers=user.headers)
    assert again.status_code == 200, again.text
    assert await tokens_counted(app, user) == again.json()["usage"]["total_tokens"]


async def test_a_queued_run_cancelled_before_it_starts_ends_cancelled_and_leaves_no_trace(
    client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM
) -> None:
    """Enqueued behind a busy run, the second run waits in this process; a cancel ends it before
    it claimed the conversation: its message is never stored, the busy run goes on."""
    fake_llm.script(fake_llm.reply(SLOW, chunk_delay=0.05))
    conversation_id = await new_conversation(client, user)
    body = {"message": "first", "conversation_id": conversation_id}
    first = asyncio.create_task(
        client.post("/api/agent/chat/stream", json=body, headers=user.headers)
    )
    busy = await run_of(client, user, conversation_id)
    await until(lambda: len(fake_llm.calls) >= 1)
    body = {
        "message": "second",
        "conversation_id": conversation_id,
        "multitask_strategy": "enqueue",
    }
    second = asyncio.create_task(client.post("/api/agent/chat", json=body, headers=user.headers))
    queued = await queued_run(client, user, conversation_id)

    r = await client.post(f"/api/runs/{queued['id']}/cancel", headers=user.headers)
    assert r.status_code == 202, r.text
    r = await asyncio.wait_for(second, 10)

    assert (r.status_code, r.json()["error"]) == (409, "run_cancelled"), r.text
    run = (await client.get(f"/api/runs/{queued['id']}", headers=user.headers)).json()
    assert run["status"] == "cancelled"
    events = await events_of(client, user, queued["id"])
    assert [int(e.id or 0) for e in events] == list(range(1, len(events) + 1))
    assert events[-1].event == "error"
    assert events[-1].json()["error"] == "run_cancelled"
    assert len(fake_llm.calls) == 1  # the cancelled run never asked the model
    busy_now = (await client.get(f"/api/runs/{busy['id']}", headers=user.headers)).json()
    assert busy_now["status"] == "running"  # the busy run was left alone
    r = await client.post(f"/api/runs/{busy['id']}/rollback", headers=user.headers)
    assert (r.status_code, r.json()["error"]) == (409, "run_in_progress")  # not while it runs

    await client.post(f"/api/runs/{busy['id']}/cancel", headers=user.headers)
    streamed = await asyncio.wait_for(first, 10)
    assert parse_sse(streamed.text)[-1].json()["error"] == "run_cancelled"
    kept = await history(client, user, conversation_id)
    assert "second" not in [m["content"] for m in kept]

    # the newest run, ended: taking it back removes nothing, it stored nothing
    r = await client.post(f"/api/runs/{queued['id']}/rollback", headers=user.headers)
    assert r.status_code == 200, r.text
    assert await history(client, user, conversation_id) == kept


async def queued_run(
    client: httpx.AsyncClient, user: TestUser, conversation_id: str
) -> dict[str, Any]:
    """The conversation's queued run, once there is one."""
    deadline = time.monotonic() + 5
    while True:
        r = await client.get(f"/api/conversations/{conversation_id}/runs", headers=user.headers)
        queued = [run for run in r.json() if run["status"] == "queued"]
        if queued:
            return dict(queued[0])
        assert time.monotonic() < deadline, "no run was queued"
        await asyncio.sleep(0.02)


async def test_a_step_the_database_refuses_fails_the_run_and_keeps_nothing_of_the_step(
    app: FastAPI,
    client: httpx.AsyncClient,
    user: TestUser,
    fake_llm: FakeLLM,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Not an outage: the database itself refuses the step's commit (a trigger on its events), so
    nothing is made again. The run fails `internal_error`; the task, the tool's messages and the
    step's events rolled back together; the events that were sent follow each other to the end."""
    caplog.set_level(logging.INFO, logger="agent_service.runs")
    fake_llm.script(fake_llm.tool_call("create_task", title="Never made"))

    async with inserts_refused(app.state.engine, "run_event", when="NEW.event = 'tool.result'"):
        r = await asyncio.wait_for(
            client.post(
                "/api/agent/chat/stream", json={"message": "Make it"}, headers=user.headers
            ),
            15,
        )

    assert r.status_code == 200, r.text
    events = parse_sse(r.text)
    assert [int(e.id or 0) for e in events] == list(range(1, len(events) + 1))
    assert [e.event for e in events] == ["run.created", "error"], events
    assert events[-1].json()["error"] == "internal_error"
    run_id = r.headers["X-Run-Id"]
    assert [m.getMessage() for m in caplog.records if m.levelno == logging.ERROR] == [
        f"run {run_id} failed"  # with the database's error, for the operator
    ]
    assert len(fake_llm.calls) == 1  # refused, not made again
    run = (await client.get(f"/api/runs/{run_id}", headers=user.headers)).json()
    assert run["status"] == "failed"
    # the refused step's model call was spent: the run shows its tokens, and they are charged
    assert run["usage"]["total_tokens"] > 0
    assert await tokens_counted(app, user) == run["usage"]["total_tokens"]
    assert app.state.runs.host.scopes == {}  # ended: nothing of it is held to cancel
    assert (await client.get("/api/tasks", headers=user.headers)).json() == []
    conversation_id = events[0].json()["conversation_id"]
    messages = await history(client, user, conversation_id)
    assert [(m["role"], m["content"]) for m in messages] == [("user", "Make it")]

    fake_llm.script(fake_llm.reply("Fine now."))
    body = {"message": "Again", "conversation_id": conversation_id}
    again = await client.post("/api/agent/chat", json=body, headers=user.headers)
    assert again.status_code == 200, again.text
    assert again.json()["response"] == "Fine now."


async def test_an_end_the_database_keeps_refusing_is_given_up_and_left_to_the_lease(
    app: FastAPI,
    settings: Settings,
    client: httpx.AsyncClient,
    user: TestUser,
    fake_llm: FakeLLM,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The model fails and the database refuses the run's end (its error event) past
    `RUN_FINAL_STORE_S`: the end is given up, said at ERROR with the database's error, and the
    run is left stalled (not renewed), for a sweep to end once its lease runs out."""
    caplog.set_level(logging.WARNING, logger="agent_service.runs")
    settings.llm_max_retries = 0
    settings.run_final_store_s = 0.5
    settings.run_heartbeat_s = 3600.0  # no sweep during the test: the run stays as it was left
    fake_llm.script(fake_llm.server_error(500))

    async with inserts_refused(app.state.engine, "run_event", when="NEW.event = 'error'"):
        chat = asyncio.create_task(
            client.post("/api/agent/chat", json={"message": "Hi"}, headers=user.headers)
        )
        deadline = time.monotonic() + 20
        while not [r for r in caplog.records if r.levelno == logging.ERROR]:
            assert time.monotonic() < deadline, "the end was never given up"
            await asyncio.sleep(0.02)

    [stalled] = list(app.state.runs.host.stalled)
    [given_up] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert given_up.getMessage() == f"could not record the end of run {stalled}"
    assert given_up.exc_info and given_up.exc_info[1] is not None  # the database's reason
    run = (await client.get(f"/api/runs/{stalled}", headers=user.headers)).json()
    assert run["status"] == "running", run
    chat.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await chat


async def test_a_refused_completion_event_is_not_reported_as_a_refused_count(
    app: FastAPI,
    settings: Settings,
    client: httpx.AsyncClient,
    user: TestUser,
    fake_llm: FakeLLM,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The answer's own rows are written before its token count, so a failure of theirs is
    retried as the answer's, not taken for the count's (which would store the answer without
    its count)."""
    caplog.set_level(logging.WARNING, logger="agent_service.runs")
    settings.run_final_store_s = 0.5
    fake_llm.script(fake_llm.reply(ANSWER))
    completed = "NEW.event = 'message.completed'"

    async with inserts_refused(app.state.engine, "run_event", when=completed):
        r = await asyncio.wait_for(
            client.post("/api/agent/chat", json={"message": "Hi"}, headers=user.headers), 15
        )

    assert r.status_code == 500, r.text
    # given up as the answer's failure (after how many retries depends on the machine's speed)
    assert [m.getMessage() for m in caplog.records if m.levelno == logging.ERROR] == [
        f"could not store the answer of run {r.headers['X-Run-Id']}"
    ]
    assert logged(caplog, "could not count the usage of run") == 0
    run = (await client.get(f"/api/runs/{r.headers['X-Run-Id']}", headers=user.headers)).json()
    assert run["status"] == "failed"
