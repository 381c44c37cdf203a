"""A run ended by a sweep (its replica stopped renewing its lease) after its answer had begun:
what it streamed is charged, and a follower of the run on the sweeping replica hears the end at
once, not at its next poll."""

from __future__ import annotations

import asyncio
import math

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from agent_service.quotas.models import TokenUsage
from agent_service.runs.executor import RunExecutor
from agent_service.runs.router import CANCEL_REPLY_WAIT_S
from agent_service.runs.settlement import CHARS_PER_TOKEN
from agent_service.settings import Settings
from agent_testkit import FakeLLM, parse_sse
from tests.database import statements_sent
from tests.factories import TestUser
from tests.integration.test_run_takeover import (  # noqa: F401 - fixtures used by name
    called,
    has_delta,
    make_replica,
    new_conversation,
    replica_a,
    settings,
    start_on,
    until,
)


async def test_a_swept_run_charges_its_text_and_its_follower_hears_the_end_at_once(
    app: FastAPI,
    settings: Settings,  # noqa: F811
    client: httpx.AsyncClient,
    user: TestUser,
    fake_llm: FakeLLM,
    replica_a: RunExecutor,  # noqa: F811
) -> None:
    settings.run_poll_s = 60.0  # a follower that is not woken waits past the test's deadline
    fake_llm.script(fake_llm.reply(" ".join(["word"] * 200), chunk_delay=0.5))  # 100 s of words
    conversation_id = await new_conversation(client, user)
    run_id = await start_on(replica_a, app, conversation_id, "Hi")
    await until(lambda: has_delta(app, run_id), "A streamed the first words")
    follower = asyncio.create_task(client.get(f"/api/runs/{run_id}/events", headers=user.headers))
    await asyncio.sleep(0.2)  # the follower has read the rows so far and waits
    assert not follower.done()

    assert await until(lambda: app.state.runs.sweep(at_startup=False), "swept by B") == 1
    r = await asyncio.wait_for(follower, 10)

    events = parse_sse(r.text)
    assert events[-1].event == "error" and events[-1].json()["error"] == "run_interrupted"
    assert [int(e.id or 0) for e in events] == list(range(1, len(events) + 1))
    streamed = "".join(e.json()["delta"] for e in events if e.event == "message.delta")
    assert streamed
    async with app.state.sessionmaker() as session:
        tokens = sum(
            await session.scalars(select(TokenUsage.tokens).where(TokenUsage.user_id == user.id))
        )
    assert tokens == math.ceil(len(streamed) / CHARS_PER_TOKEN)


async def test_a_cancel_ends_a_dead_replicas_run_at_once_and_waits_without_spinning(
    app: FastAPI,
    settings: Settings,  # noqa: F811
    client: httpx.AsyncClient,
    user: TestUser,
    fake_llm: FakeLLM,
    replica_a: RunExecutor,  # noqa: F811
) -> None:
    """A's lease ran out (it renews nothing here): a cancel ends its run itself, at once. While
    A's lease holds, the cancel is A's, which never hears it: the reply waits for the run's end
    (woken, or polling every `run_poll_s`), not in a loop of reads, then says `running`."""
    fake_llm.script(fake_llm.timeout())
    conversation_id = await new_conversation(client, user)
    held = await start_on(replica_a, app, conversation_id, "Hi")
    await until(lambda: called(fake_llm, 1), "A called the model")
    settings.run_lease_s = 60.0  # A's lease holds: the cancel is A's to act on
    with statements_sent(app.state.engine) as sent:
        r = await client.post(f"/api/runs/{held}/cancel", headers=user.headers)
    assert r.json()["status"] == "running", r.text  # A never heard it
    reads = [s for s, _ in sent if s.lstrip().startswith("SELECT run.status")]
    assert 1 <= len(reads) <= 2 * CANCEL_REPLY_WAIT_S / settings.run_poll_s + 2, len(reads)

    settings.run_lease_s = 0.05  # now A's lease has run out
    r = await client.post(f"/api/runs/{held}/cancel", headers=user.headers)
    assert r.json()["status"] == "cancelled", r.text
    assert r.json()["error"]["error"] == "run_cancelled"
