"""The final answer is never lost: a failing store is retried, and past its deadline the run ends
`failed` with the answer kept in its events.

The fault is the database's own: a trigger refuses to insert the answer message (SQLite's
`RAISE(ABORT)`, a PL/pgSQL exception on PostgreSQL), as a full disk or a constraint added by hand
would. Dropping the trigger is the fault going away.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from fastapi import FastAPI

from agent_service.settings import Settings
from agent_testkit import FakeLLM, parse_sse
from tests.conftest import use_fake_llm
from tests.database import inserts_refused
from tests.factories import TestUser
from tests.integration.test_run_endings import tokens_counted
from tests.integration.test_runs_api import events_of
from tests.integration.test_runs_faults_outage import logged

ANSWER = "The answer that must survive."


@pytest.fixture
def settings(settings: Settings, fake_llm: FakeLLM) -> Settings:
    settings = use_fake_llm(settings, fake_llm.base_url)
    settings.run_final_store_s = 2.0
    return settings


@asynccontextmanager
async def answer_refused(
    app: FastAPI, fake_llm: FakeLLM, caplog: pytest.LogCaptureFixture
) -> AsyncIterator[None]:
    """While inside: the model answers ANSWER and the database refuses to store it."""
    caplog.set_level(logging.WARNING, logger="agent_service.runs")
    fake_llm.script(fake_llm.reply(ANSWER))
    refused = f"NEW.role = 'assistant' AND NEW.content = '{ANSWER}'"
    async with inserts_refused(app.state.engine, "message", when=refused):
        yield


def failed_attempts(caplog: pytest.LogCaptureFixture) -> int:
    return sum("could not store the answer" in r.getMessage() for r in caplog.records)


async def test_a_failing_store_is_retried_and_the_answer_arrives(
    app: FastAPI,
    client: httpx.AsyncClient,
    user: TestUser,
    fake_llm: FakeLLM,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with answer_refused(app, fake_llm, caplog):
        chat = asyncio.create_task(
            client.post("/api/agent/chat", json={"message": "Hi"}, headers=user.headers)
        )
        deadline = time.monotonic() + 10
        while failed_attempts(caplog) == 0:  # the store failed at least once...
            assert not chat.done(), chat.result().text
            assert time.monotonic() < deadline, "the answer's store never failed"
            await asyncio.sleep(0.02)
    r = await asyncio.wait_for(chat, timeout=10)  # ...and the fault went away within the deadline

    assert r.status_code == 200, r.text
    assert r.json()["response"] == ANSWER
    # each retry names the database's reason (SQLite's refusal is an integrity error, reported
    # by the append as ConversationBusy; PostgreSQL's is the trigger's RAISE)
    retries = [r for r in caplog.records if r.levelno == logging.WARNING]
    reasons = {reason_given(r) for r in retries if "could not store the answer" in r.msg}
    assert reasons
    assert reasons <= {"ConversationBusy", "RaiseException"}, reasons
    host = app.state.runs.host
    assert (host.stalled, host.refused) == (set(), set())  # stored: its lease renewed again
    r = await client.get(
        f"/api/conversations/{r.json()['conversation_id']}/history", headers=user.headers
    )
    assert [m["content"] for m in r.json()["messages"]] == ["Hi", ANSWER]


async def test_past_its_deadline_the_run_fails_with_the_answer_kept(
    app: FastAPI,
    client: httpx.AsyncClient,
    user: TestUser,
    fake_llm: FakeLLM,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with answer_refused(app, fake_llm, caplog):
        r = await client.post("/api/agent/chat", json={"message": "Hi"}, headers=user.headers)

    assert r.status_code == 500, r.text
    assert r.json()["error"] == "internal_error"
    assert failed_attempts(caplog) >= 2  # retried, then given up
    run_id = r.headers["X-Run-Id"]
    [given_up] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert given_up.getMessage() == f"could not store the answer of run {run_id}"
    assert given_up.exc_info and given_up.exc_info[1] is not None  # the database's reason
    host = app.state.runs.host
    assert (host.stalled, host.refused) == (set(), set())  # ended: nothing held back
    r = await client.get(f"/api/runs/{run_id}", headers=user.headers)
    assert r.json()["status"] == "failed"

    failed = r.json()
    events = await events_of(client, user, run_id)
    kept = [e.json()["delta"] for e in events if e.event == "message.delta"]
    assert kept == [ANSWER]
    assert events[-1].event == "error"
    assert [int(e.id or 0) for e in events] == list(range(1, len(events) + 1))
    # the run's error names the event that keeps the answer, and that event holds it
    named = int(failed["error"]["detail"].rsplit("kept in event ", 1)[1].rstrip("."))
    [keeper] = [e for e in events if int(e.id or 0) == named]
    assert (keeper.event, keeper.json()["delta"]) == ("message.delta", ANSWER)
    assert events[-1].json()["detail"] == failed["error"]["detail"]
    # the answer's model call was spent: the run shows its tokens, and they are charged
    assert failed["usage"]["total_tokens"] > 0
    assert await tokens_counted(app, user) == failed["usage"]["total_tokens"]


def reason_given(record: logging.LogRecord) -> str:
    """The reason a retry's warning names: `(attempt n, <reason>); retrying`."""
    return str(record.args[-1]) if isinstance(record.args, tuple) else ""


async def test_an_answer_that_cannot_even_be_kept_leaves_the_run_to_its_lease(
    app: FastAPI,
    client: httpx.AsyncClient,
    user: TestUser,
    fake_llm: FakeLLM,
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The answer refused, and then the failure that keeps it in the run's events refused too:
    past the deadline both give up, each saying so to the operator. The run is not ended here;
    it stays held back from its lease (`stalled`), so once its lease runs out any replica sweeps
    it, this one included once the database takes writes again."""
    settings.run_final_store_s = 0.5
    settings.run_heartbeat_s = 3600.0  # no sweep during the test: the run stays as it was left
    keeping = "NEW.event = 'message.delta'"
    async with (
        answer_refused(app, fake_llm, caplog),
        inserts_refused(app.state.engine, "run_event", when=keeping),
    ):
        chat = asyncio.create_task(
            client.post("/api/agent/chat", json={"message": "Hi"}, headers=user.headers)
        )
        await logged(caplog, "could not record the failure of run", timeout_s=20)
        [stalled] = list(app.state.runs.host.stalled)
    run_id = str(stalled)

    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert errors == [
        f"could not store the answer of run {run_id}",
        f"could not record the failure of run {run_id}",
    ]
    assert not chat.done()  # the request waits for the run's end, which its lease will bring
    chat.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await chat
    run = (await client.get(f"/api/runs/{run_id}", headers=user.headers)).json()
    assert run["status"] == "running", run
    assert stalled in app.state.runs.host.stalled
    assert await tokens_counted(app, user) == 0  # not here: whoever ends it counts what it stored


async def test_a_streamed_answer_past_its_deadline_is_kept_once(
    app: FastAPI,
    client: httpx.AsyncClient,
    user: TestUser,
    fake_llm: FakeLLM,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Streamed, the answer's text is in its deltas already (stored, or still buffered and
    stored with the failure): it is not added again. Before, a reader joining the deltas got
    the answer twice."""
    async with answer_refused(app, fake_llm, caplog):
        r = await client.post(
            "/api/agent/chat/stream", json={"message": "Hi"}, headers=user.headers
        )

    assert r.status_code == 200, r.text
    events = parse_sse(r.text)
    assert [int(e.id or 0) for e in events] == list(range(1, len(events) + 1))
    assert "".join(e.json()["delta"] for e in events if e.event == "message.delta") == ANSWER
    assert events[-1].event == "error"
    assert events[-1].json()["detail"].endswith("its text is in the deltas.")
    run_id = r.headers["X-Run-Id"]
    stored = await events_of(client, user, run_id)
    assert [(e.id, e.event, e.data) for e in stored] == [(e.id, e.event, e.data) for e in events]
    run = (await client.get(f"/api/runs/{run_id}", headers=user.headers)).json()
    assert run["status"] == "failed"
    assert await tokens_counted(app, user) == run["usage"]["total_tokens"] > 0
