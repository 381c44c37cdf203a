"""A key whose first request's process was killed (SIGKILL) mid-turn: once the run is ended (or
taken over), a retry with the key gets an answer at once, not 409 `idempotency_key_in_use` for
24 h, and an effect the killed run committed is not made twice."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import httpx
import pytest

from agent_testkit import FakeLLM, FakeLLMServer
from agent_testkit.fake_llm.recording import RecordedCall
from agent_testkit.fake_llm.script import ScriptItem
from tests.e2e.test_runs_e2e import SLOW, login, service, service_env, wait_calls


def answer_by_message(call: RecordedCall) -> ScriptItem:
    """After the restart: a retried (or continued) turn gets an answer naming its message."""
    asked = [m["content"] for m in call.messages if m["role"] == "user"][-1]
    return FakeLLM.reply(f"answered {asked}")


def post_in_background(base_url: str, path: str, **kwargs: object) -> threading.Thread:
    """A JSON chat whose answer never comes (its process is killed): sent, then forgotten."""

    def send() -> None:
        try:
            with httpx.Client(base_url=base_url, timeout=30) as client:
                client.post(path, **kwargs)  # type: ignore[arg-type]
        except (httpx.HTTPError, OSError):
            pass

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    return thread


def tasks_titled(client: httpx.Client, headers: dict[str, str], title: str) -> int:
    tasks = client.get("/api/tasks", headers=headers).json()
    return sum(task["title"] == title for task in tasks)


@pytest.mark.e2e
@pytest.mark.fake_llm(strict=False, default=FakeLLM.respond(answer_by_message))
def test_a_killed_turns_key_answers_after_the_restart_and_its_effect_stays_single(
    tmp_path: Path, isolated_database_url: str, fake_llm_server: FakeLLMServer
) -> None:
    env = {
        **service_env(tmp_path, isolated_database_url, fake_llm_server),
        "IDEMPOTENCY_WAIT_S": "20",
    }
    fake_llm_server.script(
        fake_llm_server.tool_call("create_task", title="made once"),  # turn B's step
        fake_llm_server.reply(SLOW, chunk_delay=0.05),  # turn B, killed while it streams
        # turn A, killed before any step: its model call hangs (a JSON turn asks the model
        # without streaming, so a scripted answer would arrive at once and could be stored
        # before the kill on a busy machine: then the retry rightly replays it)
        fake_llm_server.timeout(),
    )
    with service(env, tmp_path / "first.log") as (base_url, process):
        headers = login(base_url, "retry@example.com")
        keyed = {"stepped": "key-b", "bare": "key-a"}
        post_in_background(
            base_url,
            "/api/agent/chat",
            json={"message": "B"},
            headers={**headers, "Idempotency-Key": keyed["stepped"]},
        )
        wait_calls(fake_llm_server, 2)
        post_in_background(
            base_url,
            "/api/agents/assistant/chat",
            json={"messages": [{"role": "user", "content": "A"}], "session_id": "a"},
            headers={**headers, "Idempotency-Key": keyed["bare"]},
        )
        wait_calls(fake_llm_server, 3)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)

    with service(env, tmp_path / "second.log") as (base_url, _):
        headers = login(base_url, "retry@example.com", register=False)
        with httpx.Client(base_url=base_url, timeout=30) as client:
            started = time.monotonic()
            bare = client.post(
                "/api/agents/assistant/chat",
                json={"messages": [{"role": "user", "content": "A"}], "session_id": "a"},
                headers={**headers, "Idempotency-Key": keyed["bare"]},
            )
            stepped = client.post(
                "/api/agent/chat",
                json={"message": "B"},
                headers={**headers, "Idempotency-Key": keyed["stepped"]},
            )
            took = time.monotonic() - started
            print(f"\nretries with the killed turns' keys answered in {took:.2f} s")
            # nothing committed: the key was let go, the retry is a turn of its own
            assert bare.status_code == 200, bare.text
            assert bare.json()["response"] == "answered A"
            # a step committed: the retry gets that run (interrupted, or taken over and answered)
            assert stepped.status_code in (200, 503), stepped.text
            if stepped.status_code == 503:
                assert stepped.json()["error"] == "run_interrupted"
                assert stepped.headers["idempotent-replayed"] == "true"
            assert tasks_titled(client, headers, "made once") == 1
