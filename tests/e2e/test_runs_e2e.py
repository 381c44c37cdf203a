"""Runs across real processes: two `agent-service serve` replicas on one PostgreSQL (a run started
on one, followed and cancelled from the other), and a process killed with SIGKILL mid-run."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from agent_testkit import FakeLLMServer, SSEEvent, iter_sse
from tests.service_process import _wait_ready, free_port

pytestmark = pytest.mark.e2e

SLOW = " ".join(["slow"] * 300)  # 300 chunks 50 ms apart: 15 s of streaming


def service_env(tmp_path: Path, database_url: str, fake: FakeLLMServer) -> dict[str, str]:
    return {
        "DATA_DIR": str(tmp_path / "var"),
        "DATABASE_URL": database_url,
        "ENVIRONMENT": "production",
        "JWT_SECRET": "e2e-" + "0123456789abcdef" * 4,
        "ARGON2_TIME_COST": "1",
        "ARGON2_MEMORY_KIB": "1024",
        "LLM_BASE_URL": fake.base_url,
        "LLM_API_KEY": "e2e-llm-key",
        "LLM_MODEL": "fake-model",
        "LLM_TIMEOUT_S": "20",
        "RUN_HEARTBEAT_S": "0.3",
        "RUN_LEASE_S": "1.5",
        "RUN_POLL_S": "0.5",
    }


@contextmanager
def service(env: dict[str, str], log_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`agent-service serve` as a process (its handle, to kill it); always stopped at the end."""
    port = free_port()
    exe = shutil.which("agent-service", path=str(Path(sys.executable).parent))
    assert exe
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [exe, "serve", "--host", "127.0.0.1", "--port", str(port), "--migrate"],
            env={**os.environ, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        base_url = f"http://127.0.0.1:{port}"
        try:
            _wait_ready(base_url, process, log_path, 30)
            yield base_url, process
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def login(base_url: str, email: str, *, register: bool = True) -> dict[str, str]:
    password = "e2e-password-1"
    with httpx.Client(base_url=base_url, timeout=10) as client:
        if register:
            r = client.post("/api/auth/register", json={"email": email, "password": password})
            assert r.status_code == 201, r.text
        r = client.post("/api/auth/login", json={"email": email, "password": password})
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['access_token']}"}


class Follower(threading.Thread):
    """Reads an SSE response in the background; `events` grows as they arrive."""

    def __init__(self, base_url: str, method: str, path: str, **kwargs: Any) -> None:
        super().__init__(daemon=True)
        self.base_url, self.method, self.path, self.kwargs = base_url, method, path, kwargs
        self.events: list[SSEEvent] = []
        self.headers: dict[str, str] = {}
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with (
                httpx.Client(base_url=self.base_url, timeout=30) as client,
                client.stream(self.method, self.path, **self.kwargs) as response,
            ):
                self.headers = dict(response.headers)
                for event in iter_sse(response):
                    self.events.append(event)
        except (httpx.HTTPError, OSError) as exc:
            self.error = exc

    def wait_for(self, name: str, timeout_s: float = 10) -> SSEEvent:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for event in self.events:
                if event.event == name:
                    return event
            time.sleep(0.02)
        raise AssertionError(f"no {name!r} event in {timeout_s}s: {self.events[-3:]}")


def wait_status(base_url: str, headers: dict[str, str], run_id: str, wanted: str) -> float:
    """Seconds until GET /api/runs/{id} on `base_url` says `wanted` (15 s deadline)."""
    started = time.monotonic()
    with httpx.Client(base_url=base_url, timeout=5) as client:
        while time.monotonic() - started < 15:
            run = client.get(f"/api/runs/{run_id}", headers=headers).json()
            if run["status"] == wanted:
                return time.monotonic() - started
            time.sleep(0.02)
    raise AssertionError(f"run {run_id} is {run['status']!r}, not {wanted!r}")


def assert_strict_history(messages: list[dict[str, Any]]) -> None:
    results = [m["tool_call_id"] for m in messages if m["role"] == "tool"]
    calls = [c["id"] for m in messages if m["role"] == "assistant" for c in m["tool_calls"] or ()]
    assert sorted(results) == sorted(calls), (calls, results)


def wait_calls(fake: FakeLLMServer, count: int) -> None:
    deadline = time.monotonic() + 10
    while len(fake.calls) < count:
        assert time.monotonic() < deadline, "the model was not called"
        time.sleep(0.02)


def test_a_run_started_on_one_replica_is_followed_and_cancelled_on_another(
    tmp_path: Path, isolated_database_url: str, fake_llm_server: FakeLLMServer
) -> None:
    if not isolated_database_url:
        pytest.skip("replicas share a PostgreSQL database (set TEST_DATABASE_URL)")
    # A heartbeat slower than wait_status's 15 s: the cancel can only reach A through the
    # notifier (LISTEN/NOTIFY), which is what this test is about, not A's next beat.
    env = {
        **service_env(tmp_path, isolated_database_url, fake_llm_server),
        "RUN_HEARTBEAT_S": "20",
        "RUN_LEASE_S": "60",
    }
    fake_llm_server.script(
        fake_llm_server.tool_call("create_task", title="from replica A"),
        fake_llm_server.reply(SLOW, chunk_delay=0.05),
    )
    with (
        service({**env, "DATA_DIR": str(tmp_path / "a")}, tmp_path / "a.log") as (a, _),
        service({**env, "DATA_DIR": str(tmp_path / "b")}, tmp_path / "b.log") as (b, _),
    ):
        headers = login(a, "replicas@example.com")
        started = Follower(
            a, "POST", "/api/agent/chat/stream", json={"message": "go"}, headers=headers
        )
        started.start()
        run_id = started.wait_for("run.created").json()["run_id"]
        started.wait_for("message.delta")

        followed = Follower(b, "GET", f"/api/runs/{run_id}/events", headers=headers)
        followed.start()
        followed.wait_for("message.delta")
        with httpx.Client(base_url=b, timeout=5) as client:
            asked = time.monotonic()
            r = client.post(f"/api/runs/{run_id}/cancel", headers=headers)
            assert r.status_code == 202, r.text
        wait_status(b, headers, run_id, "cancelled")
        latency = time.monotonic() - asked  # from the cancel request to the status seen on B
        started.join(10)
        followed.join(10)
        print(f"\ncross-replica cancel latency: {latency * 1000:.0f} ms")

        for stream in (started, followed):
            assert stream.error is None and stream.events[-1].event == "error"
            assert stream.events[-1].json()["error"] == "run_cancelled"
            ids = [int(e.id or 0) for e in stream.events]
            assert ids == list(range(1, len(ids) + 1))
        assert [(e.id, e.data) for e in followed.events] == [
            (e.id, e.data) for e in started.events
        ], "both replicas streamed the same rows"
        with httpx.Client(base_url=b, timeout=5) as client:
            tasks = client.get("/api/tasks", headers=headers).json()
        assert [t["title"] for t in tasks] == ["from replica A"]


def test_messages_sent_at_once_through_two_replicas_are_answered_one_after_another(
    tmp_path: Path, isolated_database_url: str, fake_llm_server: FakeLLMServer
) -> None:
    """Double texting across replicas: each message starts a run on the replica it reached, and
    both replicas race for the one conversation (the run that loses is queued behind the winner,
    `enqueue` being the default). Every message is answered, and the history alternates question
    and answer: no run ever ran beside another, no message was lost or stored twice."""
    if not isolated_database_url:
        pytest.skip("replicas share a PostgreSQL database (set TEST_DATABASE_URL)")
    env = service_env(tmp_path, isolated_database_url, fake_llm_server)
    count = 12
    fake_llm_server.script(*(fake_llm_server.reply("answered") for _ in range(count + 1)))
    with (
        service({**env, "DATA_DIR": str(tmp_path / "a")}, tmp_path / "a.log") as (a, _),
        service({**env, "DATA_DIR": str(tmp_path / "b")}, tmp_path / "b.log") as (b, _),
    ):
        headers = login(a, "double@example.com")
        with httpx.Client(base_url=a, timeout=30) as client:
            first = client.post("/api/agent/chat", json={"message": "m0"}, headers=headers)
        assert first.status_code == 200, first.text
        conversation_id = first.json()["conversation_id"]

        replies: dict[str, httpx.Response] = {}

        def send(base_url: str, message: str) -> None:
            body = {"message": message, "conversation_id": conversation_id}
            with httpx.Client(base_url=base_url, timeout=30) as client:
                replies[message] = client.post("/api/agent/chat", json=body, headers=headers)

        senders = [
            threading.Thread(target=send, args=(a if n % 2 else b, f"m{n}"))
            for n in range(1, count + 1)
        ]
        for sender in senders:
            sender.start()
        for sender in senders:
            sender.join(60)
        with httpx.Client(base_url=b, timeout=10) as client:
            history = client.get(
                f"/api/conversations/{conversation_id}/history", headers=headers
            ).json()["messages"]

    assert sorted(replies) == sorted(f"m{n}" for n in range(1, count + 1))
    for message, reply in replies.items():
        assert reply.status_code == 200, (message, reply.text)
        assert reply.json()["response"] == "answered"
    roles = [m["role"] for m in history]
    assert roles == ["user", "assistant"] * (count + 1), roles
    asked = [m["content"] for m in history if m["role"] == "user"]
    assert asked[0] == "m0" and sorted(asked) == sorted(f"m{n}" for n in range(count + 1))


def test_a_killed_process_leaves_an_interrupted_run_and_a_usable_history(
    tmp_path: Path, isolated_database_url: str, fake_llm_server: FakeLLMServer
) -> None:
    env = service_env(tmp_path, isolated_database_url, fake_llm_server)
    fake_llm_server.script(
        fake_llm_server.tool_call("create_task", title="before the kill"),
        fake_llm_server.reply(SLOW, chunk_delay=0.05),
    )
    with service(env, tmp_path / "first.log") as (base_url, process):
        headers = login(base_url, "killed@example.com")
        stream = Follower(
            base_url,
            "POST",
            "/api/agent/chat/stream",
            json={"message": "work hard"},
            headers=headers,
        )
        stream.start()
        run_id = stream.wait_for("run.created").json()["run_id"]
        conversation_id = stream.wait_for("run.created").json()["conversation_id"]
        wait_calls(fake_llm_server, 2)
        stream.wait_for("message.delta")
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
        stream.join(10)

    fake_llm_server.script(fake_llm_server.reply("Back again."))
    with service(env, tmp_path / "second.log") as (base_url, _):
        headers = login(base_url, "killed@example.com", register=False)
        took = wait_status(base_url, headers, run_id, "interrupted")
        print(f"\nkilled run marked interrupted {took:.2f} s after the restart was ready")
        with httpx.Client(base_url=base_url, timeout=10) as client:
            run = client.get(f"/api/runs/{run_id}", headers=headers).json()
            assert run["error"]["error"] == "run_interrupted"
            history = client.get(
                f"/api/conversations/{conversation_id}/history", headers=headers
            ).json()["messages"]
            assert_strict_history(history)
            assert [m["role"] for m in history][:3] == ["user", "assistant", "tool"]
            assert history[0]["content"] == "work hard"
            r = client.post(
                "/api/agent/chat",
                json={"message": "again", "conversation_id": conversation_id},
                headers=headers,
            )
            assert r.status_code == 200, r.text
            assert r.json()["response"] == "Back again."
