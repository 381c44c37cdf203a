"""A replica whose run was taken over while it waited for the model does not write what the model
then streams into the run: the run is another replica's, and its events are that replica's.

The model is a fake served on a port of its own (`fake_llm_server`), whose answer to A is held
until the test lets it go: B has taken the run over by then.
"""

from __future__ import annotations

import logging
import threading
import uuid

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from agent_service.runs.executor import RunExecutor
from agent_service.runs.models import RunEvent
from agent_service.runs.notifier import RunNotifier
from agent_service.settings import Settings
from agent_testkit import FakeLLMServer, RecordedCall
from agent_testkit.fake_llm.script import ScriptItem
from tests.conftest import use_fake_llm
from tests.factories import TestUser
from tests.integration.test_run_takeover import new_conversation, run_row, start_on, until
from tests.integration.test_runs_faults_outage import logged

A_WORDS = "Words A's model sends after the run was taken over."


@pytest.fixture
def settings(settings: Settings, fake_llm_server: FakeLLMServer) -> Settings:
    settings.run_heartbeat_s = 3600.0  # no heartbeat renews a lease, no sweep runs by itself
    settings.run_lease_s = 0.05
    settings.run_poll_s = 0.2
    use_fake_llm(settings, fake_llm_server.base_url)
    settings.llm_timeout_s = 60.0
    return settings


async def event_rows(app: FastAPI, run_id: uuid.UUID) -> list[tuple[int, str]]:
    async with app.state.sessionmaker() as session:
        rows = await session.execute(
            select(RunEvent.seq, RunEvent.event).where(RunEvent.run_id == run_id)
        )
        return sorted((seq, event) for seq, event in rows)


async def test_a_replicas_stream_after_a_takeover_is_not_written_into_the_run(
    app: FastAPI,
    settings: Settings,
    client: httpx.AsyncClient,
    user: TestUser,
    fake_llm_server: FakeLLMServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="agent_service.runs")
    taken_over = threading.Event()

    def answer_once_taken_over(call: RecordedCall) -> ScriptItem:
        assert taken_over.wait(30)  # the fake's own thread waits; the service goes on
        return FakeLLMServer.reply(A_WORDS, chunk_delay=0.1)  # a batch or more of deltas

    fake_llm_server.script(
        fake_llm_server.respond(answer_once_taken_over),
        fake_llm_server.timeout(),  # B's call, from the run's last committed step
    )
    fake_llm_server.allow_unused = True  # B's call may come after the test
    replica_a = RunExecutor(settings, app.state.sessionmaker, app.state.llm, RunNotifier())
    await replica_a.start()
    try:
        run_id = await start_on(replica_a, app, await new_conversation(client, user), "Hi")
        await until(lambda: _called(fake_llm_server), "A called the model")
        assert await until(lambda: app.state.runs.sweep(at_startup=False), "swept by B") == 1
        assert (await run_row(app, run_id)).owner == app.state.runs.owner
        taken_over.set()  # A's model answers now

        await logged(caplog, "its answer is dropped")  # A's end: the run is not A's
    finally:
        taken_over.set()
        await replica_a.stop()

    events = [name for _seq, name in await event_rows(app, run_id)]
    assert "message.delta" not in events, events  # A's words were written into B's run
    await logged(caplog, "its events from here are dropped")


async def _called(fake_llm_server: FakeLLMServer) -> bool:
    return len(fake_llm_server.calls) >= 1
