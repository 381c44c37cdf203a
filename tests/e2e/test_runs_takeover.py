"""A replica killed with SIGKILL mid-run: another replica on the same PostgreSQL takes the run over
once its lease runs out, from its last committed step (the model is asked again, the committed
tool step is not re-run), or ends it `interrupted` with its history repaired when text of the
unfinished model call was already streamed. The leases are the defaults (`RUN_LEASE_S`,
`RUN_HEARTBEAT_S`): the time printed is what a deployment gets."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from agent_testkit import FakeLLMServer
from tests.e2e.test_runs_e2e import (
    SLOW,
    Follower,
    assert_strict_history,
    login,
    service,
    service_env,
    wait_calls,
)

pytestmark = pytest.mark.e2e


def default_leases(env: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if k not in ("RUN_HEARTBEAT_S", "RUN_LEASE_S")}


def wait_final(base_url: str, headers: dict[str, str], run_id: str) -> dict[str, object]:
    deadline = time.monotonic() + 30
    with httpx.Client(base_url=base_url, timeout=5) as client:
        while True:
            run: dict[str, object] = client.get(f"/api/runs/{run_id}", headers=headers).json()
            if run["status"] not in ("queued", "running"):
                return run
            assert time.monotonic() < deadline, run
            time.sleep(0.05)


@contextmanager
def two_replicas(
    tmp_path: Path, env: dict[str, str]
) -> Iterator[tuple[str, subprocess.Popen[bytes], str]]:
    """Replicas A and B on one database: A's address and process (to stop or kill), B's address;
    their logs are `a.log` and `b.log` in `tmp_path`."""
    with (
        service({**env, "DATA_DIR": str(tmp_path / "a")}, tmp_path / "a.log") as (a, process_a),
        service({**env, "DATA_DIR": str(tmp_path / "b")}, tmp_path / "b.log") as (b, _),
    ):
        yield a, process_a, b


def thinking_after_a_tool_step(
    base_url: str, fake: FakeLLMServer, email: str
) -> tuple[dict[str, str], dict[str, str]]:
    """A streamed turn on `base_url` whose tool step committed and whose next model call is
    under way: the user's headers and the `run.created` event's data."""
    headers = login(base_url, email)
    stream = Follower(
        base_url, "POST", "/api/agent/chat/stream", json={"message": "go"}, headers=headers
    )
    stream.start()
    created: dict[str, str] = stream.wait_for("run.created").json()
    stream.wait_for("tool.result")
    wait_calls(fake, 2)
    return headers, created


def seconds_until_called(fake: FakeLLMServer, times: int, since: float) -> float:
    """How long after `since` the model was called `times` times (another replica went on)."""
    deadline = since + 30
    while len(fake.calls) < times:
        assert time.monotonic() < deadline, "no replica took the run over"
        time.sleep(0.02)
    return time.monotonic() - since


def test_a_killed_replicas_run_is_taken_over_from_its_last_step(
    tmp_path: Path, isolated_database_url: str, fake_llm_server: FakeLLMServer
) -> None:
    if not isolated_database_url:
        pytest.skip("replicas share a PostgreSQL database (set TEST_DATABASE_URL)")
    env = default_leases(service_env(tmp_path, isolated_database_url, fake_llm_server))
    fake_llm_server.script(
        fake_llm_server.tool_call("create_task", title="exactly once"),
        fake_llm_server.timeout(),  # the model is thinking when the replica dies
        fake_llm_server.reply("Taken over."),
    )
    with two_replicas(tmp_path, env) as (a, process_a, b):
        headers, created = thinking_after_a_tool_step(a, fake_llm_server, "takeover@example.com")
        run_id, conversation_id = created["run_id"], created["conversation_id"]
        os.killpg(process_a.pid, signal.SIGKILL)
        killed = time.monotonic()
        process_a.wait(10)

        moving = seconds_until_called(fake_llm_server, 3, killed)
        run = wait_final(b, headers, run_id)
        print(f"\nkill -9 to the run moving again on another replica: {moving:.2f} s")

        assert run["status"] == "completed", run
        with httpx.Client(base_url=b, timeout=10) as client:
            events = Follower(b, "GET", f"/api/runs/{run_id}/events", headers=headers)
            events.run()
            tasks = client.get("/api/tasks", headers=headers).json()
            history = client.get(
                f"/api/conversations/{conversation_id}/history", headers=headers
            ).json()["messages"]
            fake_llm_server.script(fake_llm_server.reply("Next turn."))
            body = {"message": "and now?", "conversation_id": conversation_id}
            r = client.post("/api/agent/chat", json=body, headers=headers)

    names = [e.event for e in events.events]
    assert names.count("tool.result") == 1 and names[-1] == "message.completed", names
    assert events.events[-1].json()["response"] == "Taken over."
    assert [int(e.id or 0) for e in events.events] == list(range(1, len(names) + 1))
    assert [t["title"] for t in tasks] == ["exactly once"]
    assert [m["role"] for m in history] == ["user", "assistant", "tool", "assistant"]
    assert_strict_history(history)
    # the model was asked again on the committed history: the tool's result included
    assert fake_llm_server.calls[2].request["messages"][-1]["role"] == "tool"
    assert r.status_code == 200, r.text
    assert r.json()["response"] == "Next turn."


def test_a_killed_replicas_run_that_streamed_text_ends_interrupted(
    tmp_path: Path, isolated_database_url: str, fake_llm_server: FakeLLMServer
) -> None:
    """Text of the unfinished answer reached its followers: going on would start the answer over
    under their eyes, so the run ends `interrupted` (on the other replica, within a lease)."""
    if not isolated_database_url:
        pytest.skip("replicas share a PostgreSQL database (set TEST_DATABASE_URL)")
    env = service_env(tmp_path, isolated_database_url, fake_llm_server)  # short leases
    fake_llm_server.script(fake_llm_server.reply(SLOW, chunk_delay=0.05))
    with two_replicas(tmp_path, env) as (a, process_a, b):
        headers = login(a, "streamed@example.com")
        stream = Follower(
            a, "POST", "/api/agent/chat/stream", json={"message": "go"}, headers=headers
        )
        stream.start()
        run_id = stream.wait_for("run.created").json()["run_id"]
        stream.wait_for("message.delta")
        time.sleep(0.3)  # a batch of it committed
        os.killpg(process_a.pid, signal.SIGKILL)
        process_a.wait(10)
        run = wait_final(b, headers, run_id)

    assert run["status"] == "interrupted", run
    assert len(fake_llm_server.calls) == 1  # not asked again


def test_a_killed_process_run_is_taken_over_when_it_restarts(
    tmp_path: Path, isolated_database_url: str, fake_llm_server: FakeLLMServer
) -> None:
    """One process (embedded SQLite, or alone on PostgreSQL): its restart continues the run."""
    env = service_env(tmp_path, isolated_database_url, fake_llm_server)
    fake_llm_server.script(
        fake_llm_server.tool_call("create_task", title="exactly once"),
        fake_llm_server.timeout(),
        fake_llm_server.reply("Continued after the restart."),
    )
    with service(env, tmp_path / "first.log") as (base_url, process):
        headers = login(base_url, "restarted@example.com")
        stream = Follower(
            base_url, "POST", "/api/agent/chat/stream", json={"message": "go"}, headers=headers
        )
        stream.start()
        run_id = stream.wait_for("run.created").json()["run_id"]
        stream.wait_for("tool.result")
        wait_calls(fake_llm_server, 2)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)

    with service(env, tmp_path / "second.log") as (base_url, _):
        headers = login(base_url, "restarted@example.com", register=False)
        run = wait_final(base_url, headers, run_id)
        with httpx.Client(base_url=base_url, timeout=10) as client:
            tasks = client.get("/api/tasks", headers=headers).json()

    assert run["status"] == "completed", run
    assert [t["title"] for t in tasks] == ["exactly once"]
    assert len(fake_llm_server.calls) == 3


def test_a_stopped_replicas_run_is_handed_over_at_once(
    tmp_path: Path, isolated_database_url: str, fake_llm_server: FakeLLMServer
) -> None:
    """SIGTERM (a rolling deploy) while the model thinks: the replica hands its run over as it
    stops, so the other one continues it at its next heartbeat, not a lease later. The leases are
    the defaults: the time printed is what a deployment gets."""
    if not isolated_database_url:
        pytest.skip("replicas share a PostgreSQL database (set TEST_DATABASE_URL)")
    env = default_leases(service_env(tmp_path, isolated_database_url, fake_llm_server))
    fake_llm_server.script(
        fake_llm_server.tool_call("create_task", title="exactly once"),
        fake_llm_server.timeout(),  # the model is thinking when the replica is stopped
        fake_llm_server.reply("Handed over."),
    )
    with two_replicas(tmp_path, env) as (a, process_a, b):
        headers, created = thinking_after_a_tool_step(a, fake_llm_server, "handover@example.com")
        run_id = created["run_id"]
        process_a.send_signal(signal.SIGTERM)
        stopped = time.monotonic()
        process_a.wait(20)

        moving = seconds_until_called(fake_llm_server, 3, stopped)
        run = wait_final(b, headers, run_id)
        print(f"\nSIGTERM to the run moving again on another replica: {moving:.2f} s")
        with httpx.Client(base_url=b, timeout=10) as client:
            tasks = client.get("/api/tasks", headers=headers).json()

    assert run["status"] == "completed", run
    assert [t["title"] for t in tasks] == ["exactly once"]
    assert (
        "this process is stopping; another replica continues it" in (tmp_path / "a.log").read_text()
    )
