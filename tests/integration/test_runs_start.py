"""How a run starts: created running with the messages it answers, in the route's one commit,
when no other run of the conversation is active; queued behind the run that got there first
when it lost that race (the unique index on running runs decides)."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import FastAPI

from agent_service.settings import Settings
from agent_testkit import FakeLLM
from tests.conftest import use_fake_llm
from tests.database import inserts_refused, statements_sent
from tests.factories import TestUser
from tests.integration.test_runs_api import events_of, history, new_conversation

# what the unique index does to the second of two runs started at once on a conversation
RUNNING_REFUSED = "NEW.status = 'running'"


@pytest.fixture
def settings(settings: Settings, fake_llm: FakeLLM) -> Settings:
    return use_fake_llm(settings, fake_llm.base_url)


async def test_a_run_starts_running_with_its_messages_in_one_commit(
    app: FastAPI, client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM
) -> None:
    """No claim follows: the run's row is inserted running, and nothing updates it to running."""
    fake_llm.script(fake_llm.reply("Hi."))
    conversation_id = await new_conversation(client, user)
    body = {"message": "hello", "conversation_id": conversation_id}
    with statements_sent(app.state.engine) as sent:
        r = await client.post("/api/agent/chat", json=body, headers=user.headers)
    assert r.status_code == 200, r.text

    inserts = [s for s, _ in sent if s.startswith("INSERT INTO run ")]
    assert len(inserts) == 1
    updates = [" ".join(s.split()) for s, _ in sent if s.startswith("UPDATE run")]
    claims = [s for s in updates if "first_position" in s]
    assert claims == []  # the executor's claim of a queued run sets where its messages start
    messages = await history(client, user, conversation_id)
    assert [(m["role"], m["content"]) for m in messages] == [
        ("user", "hello"),
        ("assistant", "Hi."),
    ]


async def test_the_first_turn_of_a_new_conversation_reads_no_row_it_wrote(
    app: FastAPI, client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM
) -> None:
    """The run and the conversation made by the turn go to the executor as committed, every
    column set: neither is read back by its id."""
    fake_llm.script(fake_llm.reply("Hi."))
    with statements_sent(app.state.engine) as sent:
        r = await client.post("/api/agent/chat", json={"message": "hello"}, headers=user.headers)
    assert r.status_code == 200, r.text

    by_id = ("FROM conversation WHERE conversation.id = ", "FROM run WHERE run.id = ")
    selects = [" ".join(s.split()) for s, _ in sent if s.startswith("SELECT")]
    rereads = [s for s in selects if any(k in s for k in by_id)]
    assert rereads == []


async def test_a_run_that_lost_the_conversation_is_queued_and_answers(
    app: FastAPI, client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM
) -> None:
    """The database refuses the running row, as the unique index refuses a second run started at
    once: the turn is created queued instead and claimed, and answers as if nothing happened."""
    fake_llm.script(fake_llm.reply("First."), fake_llm.reply("Second."))
    conversation_id = await new_conversation(client, user)
    body = {"conversation_id": conversation_id}
    first = await client.post(
        "/api/agent/chat", json={**body, "message": "one"}, headers=user.headers
    )
    assert first.status_code == 200, first.text

    async with inserts_refused(
        app.state.engine, "run", when=RUNNING_REFUSED, as_unique_violation=True
    ):
        r = await client.post(
            "/api/agent/chat", json={**body, "message": "two"}, headers=user.headers
        )

    assert r.status_code == 200, r.text
    assert r.json()["response"] == "Second."
    names = [e.event for e in await events_of(client, user, r.json()["run_id"])]
    assert names == ["run.created", "message.completed"]
    messages = await history(client, user, conversation_id)
    assert [m["content"] for m in messages] == ["one", "First.", "two", "Second."]
    runs = (
        await client.get(f"/api/conversations/{conversation_id}/runs", headers=user.headers)
    ).json()
    assert [run["status"] for run in runs] == ["completed", "completed"]


async def test_a_refused_run_of_a_new_conversation_is_a_500_and_keeps_nothing(
    app: FastAPI, client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM
) -> None:
    """A conversation made by this very turn has no other run to lose to: a refused row is a fault
    of the database, answered 500 in the envelope, and the conversation is not half made."""
    async with inserts_refused(
        app.state.engine, "run", when=RUNNING_REFUSED, as_unique_violation=True
    ):
        r = await client.post(
            "/api/agent/chat",
            json={"message": "hello", "agent_type": "assistant"},
            headers=user.headers,
        )

    assert r.status_code == 500, r.text
    assert r.json()["error"] == "internal_error"
    assert fake_llm.calls == []
    listed = await client.get("/api/conversations", headers=user.headers)
    assert listed.json() == []


async def test_messages_sent_at_once_are_answered_one_after_another(
    client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM
) -> None:
    """Double texting in one process: the first message's run starts at once, the others queue
    behind it (the default `enqueue`) or lose the race to start and queue then; every one is
    answered in turn, and the history alternates question and answer."""
    count = 8
    fake_llm.script(*(fake_llm.reply("answered") for _ in range(count)))
    conversation_id = await new_conversation(client, user)

    async def send(n: int) -> httpx.Response:
        body = {"message": f"m{n}", "conversation_id": conversation_id}
        return await client.post("/api/agent/chat", json=body, headers=user.headers)

    replies = await asyncio.wait_for(asyncio.gather(*(send(n) for n in range(count))), 30)

    assert [(r.status_code, r.json().get("response")) for r in replies] == [
        (200, "answered")
    ] * count
    messages = await history(client, user, conversation_id)
    assert [m["role"] for m in messages] == ["user", "assistant"] * count
    asked = sorted(m["content"] for m in messages if m["role"] == "user")
    assert asked == sorted(f"m{n}" for n in range(count))
