"""A replica whose heartbeat failed sweeps no lease for a whole lease: the leases that ran out
meanwhile are the ones an outage kept every replica from renewing (here: another process holds
SQLite's write lock), and their owners renew them at their next beat. Then it sweeps again."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from agent_service.runs import liveness
from agent_service.runs.executor import RunExecutor
from agent_service.runs.notifier import RunNotifier
from agent_service.settings import Settings
from agent_testkit import FakeLLM
from tests.conftest import use_fake_llm
from tests.factories import TestUser
from tests.faults import SqliteLockHolder, sqlite_path
from tests.integration.test_run_takeover import (
    called,
    new_conversation,
    owned_by,
    run_row,
    start_on,
    until,
)
from tests.integration.test_runs_faults_outage import logged


@pytest.fixture
def settings(settings: Settings, fake_llm: FakeLLM) -> Settings:
    if not settings.resolved_database_url.startswith("sqlite"):
        pytest.skip("another process holding SQLite's write lock")
    settings.run_heartbeat_s = 3600.0  # the app's own heartbeat stays out of it
    settings.run_lease_s = 0.05
    settings.sqlite_busy_timeout_ms = 50  # a write the other process blocks fails at once
    use_fake_llm(settings, fake_llm.base_url)
    settings.llm_timeout_s = 60.0
    return settings


@pytest.fixture
async def replicas(app: FastAPI, settings: Settings) -> AsyncIterator[tuple[RunExecutor, ...]]:
    """A (no heartbeat: its run's lease runs out) and C (beats every 50 ms, leases of 1 s)."""
    own = settings.model_copy(update={"run_heartbeat_s": 0.05, "run_lease_s": 1.0})
    made = [
        RunExecutor(settings, app.state.sessionmaker, app.state.llm, RunNotifier()),
        RunExecutor(own, app.state.sessionmaker, app.state.llm, RunNotifier()),
    ]
    await made[0].start()
    try:
        yield tuple(made)
    finally:
        for replica in made:
            await replica.stop()


async def test_after_a_failed_heartbeat_no_lease_is_swept_for_a_lease(
    app: FastAPI,
    settings: Settings,
    client: httpx.AsyncClient,
    user: TestUser,
    fake_llm: FakeLLM,
    replicas: tuple[RunExecutor, RunExecutor],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """C's heartbeat fails (another process holds SQLite's write lock): the leases that ran out
    meanwhile are the ones nobody could renew, so C sweeps none until a lease has passed; then
    it takes A's run over."""
    caplog.set_level(logging.INFO, logger="agent_service.runs")
    replica_a, replica_c = replicas
    fake_llm.script(fake_llm.timeout(), fake_llm.timeout())
    run_id = await start_on(replica_a, app, await new_conversation(client, user), "Hi")
    await until(lambda: called(fake_llm, 1), "A called the model")
    holder = SqliteLockHolder(sqlite_path(settings.resolved_database_url))
    holder.take()
    try:
        await replica_c.start()  # its first beats fail
        await logged(caplog, "run heartbeat failed")
    finally:
        holder.release()
    [failure] = [r for r in caplog.records if r.getMessage() == "run heartbeat failed"][:1]
    assert failure.exc_info and failure.exc_info[0] is not None  # with the database's error

    assert not liveness.sweeping_allowed(replica_c.host)
    assert await liveness.sweep(replica_c.host, at_startup=False) == 0  # A's lease ran out
    assert (await run_row(app, run_id)).owner == replica_a.owner

    await until(lambda: owned_by(app, run_id, replica_c.owner), "taken over by C after a lease")
    await until(lambda: called(fake_llm, 2), "C called the model")
