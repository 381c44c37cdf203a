"""Replicas' notifiers on one PostgreSQL (LISTEN/NOTIFY): a transaction's announce reaches the
other replica's watchers at its commit and not before, a cancel reaches the other's owner, a
listener whose connection the server ends reconnects and hears the next one, and stop ends the
listener. PostgreSQL only: embedded SQLite has one process."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator

import httpx
import psycopg
import pytest
from fastapi import FastAPI

from agent_service.runs.notifier import PostgresRunNotifier, cancel_key, conversation_key, run_key
from agent_service.settings import Settings
from agent_testkit import FakeLLM
from tests.conftest import use_fake_llm
from tests.factories import TestUser
from tests.integration.test_runs_api import new_conversation

OTHER = "agent-service-test-other-replica"


@pytest.fixture
def settings(settings: Settings, fake_llm: FakeLLM) -> Settings:
    return use_fake_llm(settings, fake_llm.base_url)


@pytest.fixture
async def other(database_url: str) -> AsyncIterator[PostgresRunNotifier]:
    """Another replica's notifier, listening."""
    if not database_url.startswith("postgresql"):
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's")
    dsn = database_url.replace("postgresql+psycopg://", "postgresql://", 1)
    dsn += ("&" if "?" in dsn else "?") + f"application_name={OTHER}"
    notifier = PostgresRunNotifier(dsn, reconnect_s=0.05)
    await asyncio.wait_for(notifier.start(), timeout=10)
    assert notifier.listening.is_set()
    try:
        yield notifier
    finally:
        await asyncio.wait_for(notifier.stop(), timeout=5)  # the listener's task ends


async def until(check: object, what: str) -> None:
    deadline = time.monotonic() + 10
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"never {what}"
        await asyncio.sleep(0.01)


async def announce(app: FastAPI, *keys: str, commit: bool = True) -> None:
    async with app.state.sessionmaker() as session:
        await app.state.runs.notifier.announce(session, *keys)
        if commit:
            await session.commit()


async def test_an_announce_reaches_the_other_replica_at_its_commit(
    app: FastAPI, other: PostgresRunNotifier
) -> None:
    run_id = uuid.uuid4()
    cancels: list[str] = []
    other.on_cancel = cancels.append
    with other.watch(run_key(run_id)) as woken:
        await announce(app, run_key(run_id), commit=False)  # rolled back: nothing is sent
        await announce(app, cancel_key(run_id))
        await until(lambda: cancels == [str(run_id)], "heard the cancel")
        assert not woken.is_set()

        await announce(app, run_key(run_id))

        await asyncio.wait_for(woken.wait(), timeout=10)


async def test_a_listener_whose_connection_ends_reconnects_and_hears_the_next_one(
    app: FastAPI, other: PostgresRunNotifier, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="agent_service.runs.notifier")
    dsn = database_url.replace("postgresql+psycopg://", "postgresql://", 1)
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as admin:
        await admin.execute(  # the other replica's listening connection only
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
            (OTHER,),
        )
    await until(lambda: not other.listening.is_set(), "noticed the lost connection")
    [lost] = [r for r in caplog.records if "reconnecting" in r.getMessage()]
    assert lost.exc_info and lost.exc_info[1] is not None  # why, for whoever reads the log
    await until(other.listening.is_set, "listening again")

    run_id = uuid.uuid4()
    with other.watch(run_key(run_id)) as woken:
        await announce(app, run_key(run_id))
        await asyncio.wait_for(woken.wait(), timeout=10)


async def test_a_stored_answer_is_announced_to_the_other_replica(
    app: FastAPI,
    client: httpx.AsyncClient,
    user: TestUser,
    fake_llm: FakeLLM,
    other: PostgresRunNotifier,
) -> None:
    """The answer's commit tells the other replicas: a stream followed there and a run queued
    there behind this one (watching the conversation) move then, not at their next poll."""
    fake_llm.script(fake_llm.reply("Stored and announced."))
    conversation_id = await new_conversation(client, user)
    with other.watch(conversation_key(conversation_id)) as woken:
        body = {"message": "Hi", "conversation_id": conversation_id}
        r = await client.post("/api/agent/chat", json=body, headers=user.headers)
        assert r.status_code == 200, r.text

        await asyncio.wait_for(woken.wait(), timeout=10)
