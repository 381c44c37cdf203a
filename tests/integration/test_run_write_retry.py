"""`WriteRetry`, the backoff of a write a run cannot do without (its end, a step made again): a
failed try stalls the run (its lease is not renewed) and says whether the database refused the
write or is away; the pause doubles from 0.2 s; a refusal is given up past the deadline, an
absent database is not; `done` lets the run's lease be renewed again."""

from __future__ import annotations

import asyncio
import sqlite3
import time
import uuid

from fastapi import FastAPI
from sqlalchemy.exc import IntegrityError, OperationalError, TimeoutError

from agent_service.runs.host import WriteRetry

REFUSED = IntegrityError("INSERT ...", {}, sqlite3.IntegrityError("a trigger refused it"))
AWAY = TimeoutError("QueuePool limit reached: every connection is taken")


async def test_a_write_retry_stalls_the_run_paces_its_tries_and_lets_go_when_done(
    app: FastAPI,
) -> None:
    host = app.state.runs.host
    run_id = uuid.uuid4()
    retry = WriteRetry(host, run_id, give_up_s=60)
    started = time.monotonic()

    assert await retry.again(REFUSED)
    assert run_id in host.stalled and run_id in host.refused
    assert await retry.again(AWAY)  # the database went away: no longer a refusal
    assert run_id in host.stalled and run_id not in host.refused

    assert time.monotonic() - started >= 0.2 + 0.4  # it paused between the tries
    assert (retry.attempts, retry.delay_s) == (2, 0.8)  # 0.2 s doubling
    retry.done()
    assert run_id not in host.stalled and run_id not in host.refused


async def test_a_refusal_is_given_up_past_the_deadline_an_absent_database_is_not(
    app: FastAPI,
) -> None:
    host = app.state.runs.host
    refused = WriteRetry(host, uuid.uuid4(), give_up_s=0)
    away = WriteRetry(host, uuid.uuid4(), give_up_s=0)
    await asyncio.sleep(0.01)  # past both deadlines

    assert not await refused.again(REFUSED)
    assert await away.again(AWAY)
    assert await away.again(
        OperationalError("SELECT 1", {}, sqlite3.OperationalError("database is locked"))
    )
