"""Leases between replicas on one database: a replica's heartbeat keeps its runs and hears the
cancels it missed; a run whose lease ran out is taken over by a replica with room when that is
safe, else ended (`cancelled` when a cancel was asked for, `interrupted` when text of the
unfinished model call was already streamed or no replica has room), a replica that lost the race
for a run does not take it, and one back after its run was taken over does not end it.

Replica A is a second executor (`make_replica`); B is the app's. A's heartbeat never beats unless
a test gives it one, so its leases run out as a stuck or dead replica's do.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from agent_service.conversations.models import Conversation
from agent_service.llm.messages import ChatMessage
from agent_service.runs import ending, liveness, takeover
from agent_service.runs.executor import RunExecutor
from agent_service.runs.models import Run, RunEvent
from agent_service.runs.notifier import RunNotifier
from agent_service.settings import Settings
from agent_testkit import FakeLLM, SSEEvent, parse_sse
from tests.conftest import use_fake_llm
from tests.factories import TestUser
from tests.integration.test_background_runs import background
from tests.integration.test_run_endings import tokens_counted
from tests.integration.test_runs_faults_outage import assert_valid_history, get, logged


@pytest.fixture
def settings(settings: Settings, fake_llm: FakeLLM) -> Settings:
    settings.run_heartbeat_s = 3600.0  # no heartbeat renews a lease, no sweep runs by itself
    settings.run_lease_s = 0.05
    settings.run_poll_s = 0.2
    use_fake_llm(settings, fake_llm.base_url)
    settings.llm_timeout_s = 60.0  # a model call that hangs does so for the whole test
    return settings


async def until(check: Any, what: str, *, timeout_s: float = 10.0) -> Any:
    """Await `check()` until it gives something true (the deadline fails the test)."""
    deadline = time.monotonic() + timeout_s
    while not (value := await check()):
        assert time.monotonic() < deadline, f"never {what}"
        await asyncio.sleep(0.02)
    return value


MakeReplica = Callable[..., Awaitable[RunExecutor]]


@pytest.fixture
async def make_replica(app: FastAPI, settings: Settings) -> AsyncIterator[MakeReplica]:
    """Another replica on the app's database, started (`settings` changed by `overrides`). Its
    notifier is its own, in-process: it hears nothing from the app's (on PostgreSQL, as a replica
    whose LISTEN connection is down), so it learns of a cancel only by its heartbeat."""
    made: list[RunExecutor] = []

    async def make(**overrides: Any) -> RunExecutor:
        own = settings.model_copy(update=overrides) if overrides else settings
        replica = RunExecutor(own, app.state.sessionmaker, app.state.llm, RunNotifier())
        await replica.start()
        made.append(replica)
        return replica

    try:
        yield make
    finally:
        for replica in made:
            await replica.stop()


@pytest.fixture
async def replica_a(make_replica: MakeReplica) -> RunExecutor:
    return await make_replica()


async def new_conversation(client: httpx.AsyncClient, user: TestUser) -> str:
    r = await client.post(
        "/api/conversations", json={"agent_type": "assistant"}, headers=user.headers
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def start_on(
    executor: RunExecutor, app: FastAPI, conversation_id: str, text: str
) -> uuid.UUID:
    """A turn of the conversation, driven by `executor` (another replica than the app's)."""
    async with app.state.sessionmaker() as session:
        conversation = await session.get(Conversation, uuid.UUID(conversation_id))
        assert conversation is not None
        run = await executor.start_run(
            session, conversation, [ChatMessage("user", text)], stream=True
        )
        return run.id


async def called(fake_llm: FakeLLM, times: int) -> bool:
    return len(fake_llm.calls) == times


async def run_row(app: FastAPI, run_id: uuid.UUID) -> Run:
    async with app.state.sessionmaker() as session:
        run = await session.get(Run, run_id)
        assert run is not None
        return run


async def events_of(client: httpx.AsyncClient, user: TestUser, run_id: uuid.UUID) -> list[SSEEvent]:
    r = await client.get(f"/api/runs/{run_id}/events", headers=user.headers)
    return parse_sse(r.text)


async def has_delta(app: FastAPI, run_id: uuid.UUID) -> bool:
    async with app.state.sessionmaker() as session:
        found = await session.scalar(
            select(RunEvent.seq).where(RunEvent.run_id == run_id, RunEvent.event == "message.delta")
        )
        return found is not None


async def test_a_dead_replicas_run_goes_on_here_from_its_last_step(
    app: FastAPI,
    client: httpx.AsyncClient,
    user: TestUser,
    fake_llm: FakeLLM,
    replica_a: RunExecutor,
) -> None:
    fake_llm.script(fake_llm.timeout(), fake_llm.reply("Answered by B."))
    conversation_id = await new_conversation(client, user)
    run_id = await start_on(replica_a, app, conversation_id, "Hi")
    await until(lambda: called(fake_llm, 1), "A called the model")

    assert await until(lambda: app.state.runs.sweep(at_startup=False), "swept by B") == 1
    await until(lambda: run_status_is(app, run_id, "completed"), "completed by B")

    assert len(fake_llm.calls) == 2  # the model asked again, on the committed history
    assert [m["content"] for m in fake_llm.calls[1].request["messages"]][-1:] == ["Hi"]
    history = await get(client, user, f"/api/conversations/{conversation_id}/history")
    assert [m["content"] for m in history["messages"]] == ["Hi", "Answered by B."]
    names = [e.event for e in await events_of(client, user, run_id)]
    assert names[0] == "run.created" and names.count("run.created") == 1, names
    assert names[-1] == "message.completed" and "error" not in names, names


async def test_text_before_the_last_committed_step_does_not_stop_a_takeover(
    app: FastAPI,
    client: httpx.AsyncClient,
    user: TestUser,
    fake_llm: FakeLLM,
    replica_a: RunExecutor,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A's run said something, called a tool (the step committed, text and all), then died
    asking the model again: the text is the step's, so B goes on from there."""
    fake_llm.script(
        fake_llm.tool_calls([("list_tasks", {})], content="Let me look. "),
        fake_llm.timeout(),  # A's second call: A stops renewing
        fake_llm.reply("You have no tasks."),
    )
    conversation_id = await new_conversation(client, user)
    run_id = await start_on(replica_a, app, conversation_id, "What's on?")
    await until(lambda: called(fake_llm, 2), "A called the model again")

    assert await until(lambda: app.state.runs.sweep(at_startup=False), "swept by B") == 1
    await until(lambda: run_status_is(app, run_id, "completed"), "completed by B")

    await logged(caplog, "stopped renewing its lease; continuing it here")
    assert len(fake_llm.calls) == 3
    history = await get(client, user, f"/api/conversations/{conversation_id}/history")
    assert_valid_history(history["messages"])
    assert [m["role"] for m in history["messages"]] == ["user", "assistant", "tool", "assistant"]
    assert history["messages"][-1]["content"] == "You have no tasks."


async def test_a_process_started_on_sqlite_continues_its_predecessors_run(
    app: FastAPI,
    settings: Settings,
    client: httpx.AsyncClient,
    user: TestUser,
    fake_llm: FakeLLM,
    replica_a: RunExecutor,
    make_replica: MakeReplica,
) -> None:
    """One process owns a SQLite file: the one that starts takes over every leased run of the
    one before it at once, lease or not (A is never heard from again)."""
    if not settings.resolved_database_url.startswith("sqlite"):
        pytest.skip("on PostgreSQL a replica that starts sweeps expired leases only")
    settings.run_lease_s = 60.0  # A's lease has not run out
    fake_llm.script(fake_llm.timeout(), fake_llm.reply("Picked up."))
    conversation_id = await new_conversation(client, user)
    run_id = await start_on(replica_a, app, conversation_id, "Hi")
    await until(lambda: called(fake_llm, 1), "A called the model")

    replica_c = await make_replica()  # its start sweeps

    await until(lambda: run_status_is(app, run_id, "completed"), "completed by C")
    history = await get(client, user, f"/api/conversations/{conversation_id}/history")
    assert [m["content"] for m in history["messages"]] == ["Hi", "Picked up."]
    assert replica_c.active == 0


async def test_a_run_whose_answer_had_begun_is_interrupted_not_taken_over(
    app: FastAPI,
    client: httpx.AsyncClient,
    user: TestUser,
    fake_llm: FakeLLM,
    replica_a: RunExecutor,
) -> None:
    """Text of the unfinished model call reached the run's events: a follower would see the
    answer start over, so the run ends `interrupted`, its history valid."""
    fake_llm.script(
        fake_llm.reply(" ".join(["word"] * 200), chunk_delay=0.5),  # 100 s of words
        fake_llm.reply("Next turn."),
    )
    conversation_id = await new_conversation(client, user)
    run_id = await start_on(replica_a, app, conversation_id, "Hi")
    await until(lambda: has_delta(app, run_id), "A streamed the first words")

    assert await until(lambda: app.state.runs.sweep(at_startup=False), "swept by B") == 1

    run = await get(client, user, f"/api/runs/{run_id}")
    assert (run["status"], run["error"]["error"]) == ("interrupted", "run_interrupted"), run
    assert len(fake_llm.calls) == 1  # not taken over: the model was not asked again
    events = await events_of(client, user, run_id)
    assert [e.event for e in events][-1] == "error", events
    r = await client.post(
        "/api/agent/chat",
        json={"message": "Again", "conversation_id": conversation_id},
        headers=user.headers,
    )
    assert r.json()["response"] == "Next turn.", r.text
    history = await get(client, user, f"/api/conversations/{conversation_id}/history")
    assert_valid_history(history["messages"])
    assert [m["content"] for m in history["messages"]] == ["Hi", "Again", "Next turn."]


async def test_a_stopping_replica_hands_its_run_over(
    app: FastAPI,
    settings: Settings,
    client: httpx.AsyncClient,
    user: TestUser,
    fake_llm: FakeLLM,
    caplog: pytest.LogCaptureFixture,
    replica_a: RunExecutor,
) -> None:
    """A stops (SIGTERM, a rolling deploy) while its model call waits: the run is left with a
    lease that has run out instead of being ended `interrupted`, and B's next sweep continues it
    to an answer, although B's leases last a minute. It was `interrupted`, the answer lost."""
    settings.run_lease_s = 60.0  # A's and B's: only a lease A gave up is found at once
    fake_llm.script(fake_llm.timeout(), fake_llm.reply("Answered by B."))
    conversation_id = await new_conversation(client, user)
    run_id = await start_on(replica_a, app, conversation_id, "Hi")
    await until(lambda: called(fake_llm, 1), "A called the model")

    await replica_a.stop()

    row = await run_row(app, run_id)
    assert (row.status, row.owner, row.error) == ("running", replica_a.owner, None)
    await logged(caplog, "this process is stopping; another replica continues it")
    assert await app.state.runs.sweep(at_startup=False) == 1
    await until(lambda: run_status_is(app, run_id, "completed"), "completed by B")
    assert len(fake_llm.calls) == 2
    history = await get(client, user, f"/api/conversations/{conversation_id}/history")
    assert [m["content"] for m in history["messages"]] == ["Hi", "Answered by B."]
    names = [e.event for e in await events_of(client, user, run_id)]
    assert names[-1] == "message.completed" and "error" not in names, names


async def test_a_stopping_replica_counts_the_tokens_it_used_before_handing_over(
    app: FastAPI,
    settings: Settings,
    client: httpx.AsyncClient,
    user: TestUser,
    fake_llm: FakeLLM,
    replica_a: RunExecutor,
) -> None:
    """A's first model call (a tool step) used tokens; A stops during its second: those tokens
    are A's to count, since B counts only the calls it makes."""
    settings.run_lease_s = 60.0
    fake_llm.script(
        fake_llm.tool_call("create_task", title="Before the stop"),
        fake_llm.timeout(),
        fake_llm.reply("Answered by B."),
    )
    run_id = await start_on(replica_a, app, await new_conversation(client, user), "Hi")
    await until(lambda: called(fake_llm, 2), "A made its tool step and called the model again")

    await replica_a.stop()

    assert await tokens_counted(app, user) > 0
    assert await app.state.runs.sweep(at_startup=False) == 1
    await until(lambda: run_status_is(app, run_id, "completed"), "completed by B")


async def test_a_stopping_replica_whose_answer_had_begun_ends_it_interrupted(
    app: FastAPI,
    client: httpx.AsyncClient,
    user: TestUser,
    fake_llm: FakeLLM,
    replica_a: RunExecutor,
) -> None:
    """Text of the unfinished model call is in the run's events: a follower would see it start
    over, so a stopping replica ends the run `interrupted` (its history repaired)."""
    fake_llm.script(fake_llm.reply(" ".join(["word"] * 200), chunk_delay=0.5))
    conversation_id = await new_conversation(client, user)
    run_id = await start_on(replica_a, app, conversation_id, "Hi")
    await until(lambda: has_delta(app, run_id), "A streamed the first words")

    await replica_a.stop()

    run = await get(client, user, f"/api/runs/{run_id}")
    assert (run["status"], run["error"]["error"]) == ("interrupted", "run_interrupted"), run
    assert await app.state.runs.sweep(at_startup=False) == 0
    history = await get(client, user, f"/api/conversations/{conversation_id}/history")
    assert_valid_history(history["messages"])
    assert len(fake_llm.calls) == 1


async def test_a_dead_replicas_run_with_a_cancel_asked_for_is_swept_cancelled(
    app: FastAPI,
    settings: Settings,
    client: httpx.AsyncClient,
    user: TestUser,
    fake_llm: FakeLLM,
    replica_a: RunExecutor,
) -> None:
    """A asked to cancel while its lease held, and never heard it (no heartbeat, no
    notification); once its lease runs out, the sweep ends the run as asked, not taken over."""
    fake_llm.script(fake_llm.timeout())
    conversation_id = await new_conversation(client, user)
    run_id = await start_on(replica_a, app, conversation_id, "Hi")
    await until(lambda: called(fake_llm, 1), "A called the model")
    settings.run_lease_s = 60.0  # A's lease holds: the cancel is A's to act on
    r = await client.post(f"/api/runs/{run_id}/cancel", headers=user.headers)
    assert r.json()["status"] == "running", r.text  # A never heard it
    settings.run_lease_s = 0.05

    assert await until(lambda: app.state.runs.sweep(at_startup=False), "swept by B") == 1

    run = await get(client, user, f"/api/runs/{run_id}")
    assert (run["status"], run["error"]["error"]) == ("cancelled", "run_cancelled"), run
    assert len(fake_llm.calls) == 1  # not taken over


async def test_a_replica_without_room_ends_a_dead_replicas_run(
    app: FastAPI,
    settings: Settings,
    client: httpx.AsyncClient,
    user: TestUser,
    fake_llm: FakeLLM,
    replica_a: RunExecutor,
) -> None:
    """B drives as many runs as it may (`max_active_turns`): A's run is ended `interrupted`,
    not driven past the limit. B's own run, whose lease B renews, is left alone."""
    settings.max_active_turns = 1
    settings.run_lease_s = 2.0  # B renews its run just before each sweep: well within a lease
    fake_llm.script(fake_llm.timeout(), fake_llm.timeout())
    run_id = await start_on(replica_a, app, await new_conversation(client, user), "Hi")
    await until(lambda: called(fake_llm, 1), "A called the model")
    own = await start_on(app.state.runs, app, await new_conversation(client, user), "Mine")
    await until(lambda: called(fake_llm, 2), "B called the model")
    replica_b = app.state.runs

    async def beat_and_sweep() -> int:
        await liveness.beat(replica_b.host)
        swept: int = await replica_b.sweep(at_startup=False)
        return swept

    assert await until(beat_and_sweep, "swept by B") == 1

    run = await run_row(app, run_id)
    assert (run.status, run.error and run.error["error"]) == ("interrupted", "run_interrupted")
    assert len(fake_llm.calls) == 2  # A's run was not driven by B
    assert (await run_row(app, own)).status == "running"


async def test_a_replica_that_lost_the_race_does_not_take_the_run(
    app: FastAPI,
    client: httpx.AsyncClient,
    user: TestUser,
    fake_llm: FakeLLM,
    replica_a: RunExecutor,
) -> None:
    """Two replicas found the same dead run; B took it first. A, taking it as it found it
    (its own, as its owner), gets nothing: the run stays B's."""
    fake_llm.script(fake_llm.timeout(), fake_llm.timeout())
    run_id = await start_on(replica_a, app, await new_conversation(client, user), "Hi")
    await until(lambda: called(fake_llm, 1), "A called the model")
    async with app.state.sessionmaker() as session:
        found = await session.get(Run, run_id)
        assert found is not None and found.owner == replica_a.owner
        assert await until(lambda: app.state.runs.sweep(at_startup=False), "swept by B") == 1

        assert not await takeover.take(replica_a.host, session, found)

    assert (await run_row(app, run_id)).owner == app.state.runs.owner
    await until(lambda: called(fake_llm, 2), "B called the model")


async def test_a_run_renewed_since_it_was_found_is_not_taken(
    app: FastAPI,
    client: httpx.AsyncClient,
    user: TestUser,
    fake_llm: FakeLLM,
    replica_a: RunExecutor,
) -> None:
    """B found A's run with its lease run out, then A came back and renewed it: B's takeover
    takes nothing, and the run stays A's."""
    fake_llm.script(fake_llm.timeout())
    run_id = await start_on(replica_a, app, await new_conversation(client, user), "Hi")
    await until(lambda: called(fake_llm, 1), "A called the model")
    async with app.state.sessionmaker() as session:
        found = await session.get(Run, run_id)
        assert found is not None and found.owner == replica_a.owner

        await liveness.beat(replica_a.host)  # A is back: its lease renewed

        assert not await takeover.take(app.state.runs.host, session, found)
    run = await run_row(app, run_id)
    assert (run.owner, run.status) == (replica_a.owner, "running")
    assert len(fake_llm.calls) == 1


async def test_a_run_renewed_since_it_was_found_is_not_ended_by_the_sweep(
    app: FastAPI,
    client: httpx.AsyncClient,
    user: TestUser,
    fake_llm: FakeLLM,
    replica_a: RunExecutor,
) -> None:
    """As above, for a run the sweep would end (no room here, or text already streamed): A
    renewed its lease after B found it, so B's sweep ends nothing and A goes on with it. Without
    the heartbeat condition B ended a live replica's run `interrupted`."""
    fake_llm.script(fake_llm.timeout())
    run_id = await start_on(replica_a, app, await new_conversation(client, user), "Hi")
    await until(lambda: called(fake_llm, 1), "A called the model")
    async with app.state.sessionmaker() as session:
        found = await session.get(Run, run_id)
        assert found is not None and found.owner == replica_a.owner

        await liveness.beat(replica_a.host)  # A is back: its lease renewed

        await ending.end_idle(app.state.runs.host, session, found, "interrupted", unrenewed=True)
    run = await run_row(app, run_id)
    assert (run.owner, run.status, run.error) == (replica_a.owner, "running", None)
    assert replica_a.active == 1


async def test_a_replicas_heartbeat_keeps_its_lease_and_hears_a_missed_cancel(
    app: FastAPI,
    settings: Settings,
    client: httpx.AsyncClient,
    user: TestUser,
    fake_llm: FakeLLM,
    make_replica: MakeReplica,
) -> None:
    """A and C beat every 50 ms: their runs' leases are renewed, so neither C's heartbeat nor B
    sweeps A's run, and a cancel A's notifier missed reaches it at its next beat; A ends it."""
    replica_a = await make_replica(run_heartbeat_s=0.05, run_lease_s=60.0)
    replica_c = await make_replica(run_heartbeat_s=0.05, run_lease_s=60.0)
    settings.run_lease_s = 60.0
    fake_llm.script(fake_llm.timeout(), fake_llm.timeout())
    run_id = await start_on(replica_a, app, await new_conversation(client, user), "Hi")
    await until(lambda: called(fake_llm, 1), "A called the model")
    c_run = await start_on(replica_c, app, await new_conversation(client, user), "Hi")
    await until(lambda: called(fake_llm, 2), "C called the model")
    for run in (run_id, c_run, c_run):  # C's second renewal: its first beat's sweep is over
        renewed = (await run_row(app, run)).heartbeat_at
        await until(
            lambda run=run, renewed=renewed: renewed_since(app, run, renewed),
            "renewed by its heartbeat",
        )

    assert (await run_row(app, run_id)).owner == replica_a.owner  # C's sweeps left it alone
    assert await app.state.runs.sweep(at_startup=False) == 0  # nothing's lease ran out
    r = await client.post(f"/api/runs/{run_id}/cancel", headers=user.headers)

    assert r.json()["status"] == "cancelled", r.text
    assert r.json()["error"]["error"] == "run_cancelled"
    assert replica_a.active == 0  # A ended it (B does not drive it)
    assert (await run_row(app, c_run)).status == "running"


@pytest.mark.parametrize("strategy", ["interrupt", "rollback"])
async def test_interrupt_waits_for_the_run_another_replica_drives(
    app: FastAPI,
    settings: Settings,
    client: httpx.AsyncClient,
    user: TestUser,
    fake_llm: FakeLLM,
    make_replica: MakeReplica,
    strategy: str,
) -> None:
    """B gets a new message with `interrupt` (or `rollback`) while A drives the conversation's
    run: B asks it to stop, A hears so at its next beat, and B waits for the run to end before
    it starts the new one, which runs at once rather than queued behind a run being cancelled."""
    replica_a = await make_replica(run_heartbeat_s=0.05, run_lease_s=60.0)
    settings.run_lease_s = 60.0  # B does not end A's run itself: A's lease holds
    fake_llm.script(fake_llm.timeout(), fake_llm.reply("Second answer."))
    conversation_id = await new_conversation(client, user)
    first = await start_on(replica_a, app, conversation_id, "Hi")
    await until(lambda: called(fake_llm, 1), "A called the model")

    r = await background(
        client,
        user,
        "assistant",
        "Second",
        conversation_id=conversation_id,
        multitask_strategy=strategy,
    )

    assert r.status_code == 202, r.text
    assert r.json()["status"] == "running", r.json()
    assert (await run_row(app, first)).status == "cancelled"
    second = uuid.UUID(r.json()["id"])
    await until(lambda: run_status_is(app, second, "completed"), "the new run answered")
    history = await get(client, user, f"/api/conversations/{conversation_id}/history")
    kept = ["Hi"] if strategy == "interrupt" else []
    assert [m["content"] for m in history["messages"]] == [*kept, "Second", "Second answer."]


async def owned_by(app: FastAPI, run_id: uuid.UUID, owner: str) -> bool:
    return (await run_row(app, run_id)).owner == owner


async def renewed_since(app: FastAPI, run_id: uuid.UUID, since: object) -> bool:
    run = await run_row(app, run_id)
    return run.heartbeat_at is not None and run.heartbeat_at > since


async def run_status_is(app: FastAPI, run_id: uuid.UUID, status: str) -> bool:
    return (await run_row(app, run_id)).status == status


@pytest.fixture(autouse=True)
def _runs_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="agent_service.runs")


async def test_a_replica_back_after_a_takeover_does_not_end_the_run(
    app: FastAPI,
    settings: Settings,
    client: httpx.AsyncClient,
    user: TestUser,
    fake_llm: FakeLLM,
    caplog: pytest.LogCaptureFixture,
    replica_a: RunExecutor,
) -> None:
    caplog.set_level(logging.INFO, logger="agent_service.runs")
    fake_llm.script(
        fake_llm.timeout(),  # A's model call: A stops renewing while it waits
        fake_llm.timeout(),  # B's, from the run's last committed step
        fake_llm.reply("Next turn."),
    )
    conversation_id = await new_conversation(client, user)
    replica_b = app.state.runs
    try:
        run_id = await start_on(replica_a, app, conversation_id, "Hi")
        await until(lambda: called(fake_llm, 1), "A called the model")
        # A's lease runs out: B takes the run over and calls the model again
        await until(lambda: replica_b.sweep(at_startup=False), "swept by B")
        await until(lambda: called(fake_llm, 2), "B called the model")
    finally:
        await replica_a.stop()  # A comes back and lets its run go: its end is refused

    row = await run_row(app, run_id)
    assert (row.status, row.owner, row.error) == ("running", replica_b.owner, None)  # was
    # `interrupted` by A, and B's answer would have been dropped
    await logged(caplog, "its end (interrupted) is dropped")

    settings.run_lease_s = 60.0  # B's lease holds now: B, not the route, ends the run
    r = await client.post(f"/api/runs/{run_id}/cancel", headers=user.headers)
    assert r.json()["status"] == "cancelled", r.text  # B drives it: B ends it
    r = await client.get(f"/api/runs/{run_id}/events", headers=user.headers)
    errors = [e.json()["error"] for e in parse_sse(r.text) if e.event == "error"]
    assert errors == ["run_cancelled"]  # one end only, B's
    body = {"message": "Again", "conversation_id": conversation_id}
    r = await client.post("/api/agent/chat", json=body, headers=user.headers)
    assert r.json()["response"] == "Next turn.", r.text
    history = await get(client, user, f"/api/conversations/{conversation_id}/history")
    assert [m["content"] for m in history["messages"]] == ["Hi", "Again", "Next turn."]
