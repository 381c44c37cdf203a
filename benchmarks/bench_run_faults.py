"""Runs through a PostgreSQL outage and a killed replica: how long until every run is final again.

    .venv/bin/python benchmarks/bench_run_faults.py [--replicas 3] [--clients 30] [--outage-s 10]
        [--json-summary PATH]

On 127.0.0.1, all started here: PostgreSQL reached through the suite's fault proxy
(`tests/faults.py`), --replicas `agent-service serve` processes with the default leases, the kit's
FakeLLMServer (a `create_task` tool call, then a 40-word answer streamed over 2 s), and
--clients virtual clients, each on a conversation of its own, streaming
`POST /api/agent/chat/stream` back to back through the replicas in turn.

1. Outage: once half the clients' turns are running the proxy is cut (every connection reset, new ones refused) for
   --outage-s, then restored; the clients go on for 10 s more, then stop. Printed: responses by
   status (500s must be 0; 503 database_busy is the answer while the database is away), streams
   by last event, the seconds from the restore until no run is queued or running (and how many
   are still not final 60 s after it), and how many conversations refuse a new turn afterwards.
2. Kill -9: a turn whose model is still thinking after its tool step, on replica 0; the replica is
   killed; printed: the seconds until another replica calls the model again for it, and until the
   run is completed.

TEST_DATABASE_URL (or postgresql://postgres@127.0.0.1:5432/test) names the server; a database is
created and dropped. Goals (issue 21): 0 runs non-final 60 s after the database is back, 0
conversations refusing a turn, 0 responses 500, the killed run moving again within 10 s.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from bench_agent_turn import ROOT, database, free_port, postgres_reachable

sys.path.insert(0, str(ROOT))
from tests.faults import DatabaseProxy  # the suite's proxy (run from the repository)

ANSWER = " ".join(f"word{i}" for i in range(40))
KILL_MESSAGE = "think long"


class Model:
    """A fake model: a tool call to a user message, a streamed answer to a tool result; the first
    call after KILL_MESSAGE's tool step hangs (the replica dies while it waits)."""

    def __init__(self) -> None:
        from agent_testkit import FakeLLMServer
        from agent_testkit.fake_llm import respond

        self.lock = threading.Lock()
        self.kill_calls: list[float] = []  # when the killed run's model calls arrived
        self.server = FakeLLMServer(strict=False, default=respond(self.answer))

    def answer(self, call: Any) -> Any:
        from agent_testkit.fake_llm import reply, timeout, tool_call

        messages = call.messages
        if messages[-1].get("role") != "tool":
            return tool_call("create_task", title="bench")
        if any(m.get("content") == KILL_MESSAGE for m in messages if m.get("role") == "user"):
            with self.lock:
                self.kill_calls.append(time.monotonic())
                if len(self.kill_calls) == 1:
                    return timeout()
        return reply(ANSWER, chunk_delay=0.05)


def serve(env: dict[str, str], log: Path) -> tuple[str, subprocess.Popen[bytes]]:
    port = free_port()
    exe = Path(sys.executable).parent / "agent-service"
    args = [str(exe), "serve", "--host", "127.0.0.1", "--port", str(port), "--migrate"]
    proc = subprocess.Popen(
        args, env={**os.environ, **env}, stdout=log.open("wb"), stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"serve exited:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return base, proc
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"serve not ready:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)


def token(base: str, email: str) -> dict[str, str]:
    body = {"email": email, "password": "bench-password-1"}
    httpx.post(f"{base}/api/auth/register", json=body, timeout=30).raise_for_status()
    r = httpx.post(f"{base}/api/auth/login", json=body, timeout=30)
    r.raise_for_status()
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


async def stream_turn(
    client: httpx.AsyncClient, base: str, headers: dict[str, str], body: dict[str, Any]
) -> tuple[str, str | None]:
    """(outcome, conversation id): the HTTP status if not 200, else the stream's last event."""
    last, conversation = "no events", None
    try:
        async with client.stream(
            "POST", f"{base}/api/agent/chat/stream", json=body, headers=headers
        ) as r:
            if r.status_code != 200:
                data = json.loads(await r.aread() or b"{}")
                return f"{r.status_code} {data.get('error', '')}", None
            event = ""
            async for line in r.aiter_lines():
                if line.startswith("event:"):
                    event = line.split(":", 1)[1].strip()
                elif line.startswith("data:") and event:
                    data = json.loads(line.split(":", 1)[1])
                    conversation = data.get("conversation_id", conversation)
                    last = event if event != "error" else f"error {data.get('error')}"
    except httpx.HTTPError as exc:
        return f"transport {type(exc).__name__}", conversation
    return last, conversation


async def client_loop(
    n: int, bases: list[str], headers: dict[str, str], out: dict[str, Any]
) -> None:
    conversation: str | None = None
    replicas = itertools.cycle(bases[n % len(bases) :] + bases[: n % len(bases)])
    async with httpx.AsyncClient(timeout=httpx.Timeout(120, connect=5)) as client:
        while time.monotonic() < out["stop_at"]:
            body: dict[str, Any] = {"message": f"client {n}"}
            if conversation:
                body["conversation_id"] = conversation
            outcome, made = await stream_turn(client, next(replicas), headers, body)
            conversation = conversation or made
            out["outcomes"][f"{out['phase']}: {outcome}"] += 1
            if not outcome.startswith("message.completed"):
                await asyncio.sleep(1)  # as a client waits after a failure
    out["conversations"].append(conversation)


def not_final(dsn: str, among: list[str] | None = None) -> list[str]:
    """The runs queued or running (of `among`, when given), read past the proxy."""
    import psycopg

    query = "SELECT id::text FROM run WHERE status IN ('queued', 'running')"
    with psycopg.connect(dsn, autocommit=True) as conn:
        if among is not None:
            rows = conn.execute(query + " AND id::text = ANY(%s)", (among,)).fetchall()
        else:
            rows = conn.execute(query).fetchall()
        return [row[0] for row in rows]


async def outage(
    args: argparse.Namespace,
    bases: list[str],
    headers: dict[str, str],
    proxy: DatabaseProxy,
    dsn: str,
) -> dict[str, Any]:
    out: dict[str, Any] = {"outcomes": Counter(), "conversations": [], "phase": "before"}
    out["stop_at"] = time.monotonic() + 3600
    loops = [asyncio.create_task(client_loop(n, bases, headers, out)) for n in range(args.clients)]
    warm_up = time.monotonic() + 60
    while len(await asyncio.to_thread(not_final, dsn)) < args.clients // 2:
        assert time.monotonic() < warm_up, "the clients never had half their turns running"
        await asyncio.sleep(0.1)  # the outage catches turns in the middle
    print(
        f"cutting the database with {len(await asyncio.to_thread(not_final, dsn))} runs active",
        flush=True,
    )
    proxy.cut()
    out["stop_at"] = time.monotonic() + args.outage_s + 10
    out["phase"] = "during"
    await asyncio.sleep(args.outage_s)
    proxy.restore()
    print("database restored", flush=True)
    restored = time.monotonic()
    out["phase"] = "after"
    stranded = await asyncio.to_thread(not_final, dsn)  # the runs the outage caught
    settled_after = None
    while time.monotonic() - restored < 60:
        if not await asyncio.to_thread(not_final, dsn, stranded):
            settled_after = time.monotonic() - restored
            break
        await asyncio.sleep(0.2)
    await asyncio.gather(*loops)
    while time.monotonic() - restored < 60:
        if not await asyncio.to_thread(not_final, dsn):
            break
        await asyncio.sleep(0.2)
    left = len(await asyncio.to_thread(not_final, dsn))
    refusing = 0
    async with httpx.AsyncClient(timeout=60) as client:
        for n, conversation in enumerate(out["conversations"]):
            body = {"message": "after", "conversation_id": conversation} if conversation else {}
            r = await client.post(
                f"{bases[n % len(bases)]}/api/agent/chat",
                json=body or {"message": "after"},
                headers=headers,
            )
            refusing += r.status_code != 200
    return {
        "outcomes": dict(out["outcomes"]),
        "responses_500": sum(v for k, v in out["outcomes"].items() if ": 500" in k),
        "runs_caught_by_the_outage": len(stranded),
        "caught_runs_all_final_after_restore_s": settled_after,
        "not_final_60s_after_restore": left,
        "conversations_refusing_a_turn": refusing,
    }


def kill_and_take_over(
    bases: list[str], procs: list[subprocess.Popen[bytes]], headers: dict[str, str], model: Model
) -> dict[str, Any]:
    body = {"message": KILL_MESSAGE}
    r = httpx.post(
        f"{bases[1]}/api/conversations",
        json={"agent_type": "assistant"},
        headers=headers,
        timeout=30,
    )
    conversation = r.json()["id"]
    body["conversation_id"] = conversation
    thread = threading.Thread(
        target=lambda: httpx.post(
            f"{bases[0]}/api/agent/chat", json=body, headers=headers, timeout=120
        ),
        daemon=True,
    )
    thread.start()
    deadline = time.monotonic() + 60
    while not model.kill_calls:
        assert time.monotonic() < deadline, "the model was never called for the killed turn"
        time.sleep(0.02)
    procs[0].send_signal(signal.SIGKILL)
    killed = time.monotonic()
    procs[0].wait(10)
    while len(model.kill_calls) < 2 and time.monotonic() - killed < 60:
        time.sleep(0.02)
    moving = model.kill_calls[1] - killed if len(model.kill_calls) > 1 else None
    completed = None
    while time.monotonic() - killed < 60:
        runs = httpx.get(
            f"{bases[1]}/api/conversations/{conversation}/runs", headers=headers, timeout=10
        ).json()
        if runs and runs[0]["status"] == "completed":
            completed = time.monotonic() - killed
            break
        time.sleep(0.1)
    return {"kill_to_model_called_again_s": moving, "kill_to_completed_s": completed}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--clients", type=int, default=30)
    parser.add_argument("--outage-s", type=float, default=10.0)
    parser.add_argument("--json-summary", type=Path)
    args = parser.parse_args()
    if not postgres_reachable():
        print("PostgreSQL is not reachable (TEST_DATABASE_URL): skipped")
        return 0
    model = Model()
    model.server.start()
    procs: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory() as tmp, database("postgres", Path(tmp), "faults") as url:
        dsn = url.replace("postgresql+psycopg://", "postgresql://", 1)
        with DatabaseProxy.for_url(url) as proxy:
            env = {
                "DATABASE_URL": proxy.url(url),
                "ENVIRONMENT": "production",
                "JWT_SECRET": "bench-" + "0123456789abcdef" * 4,
                "ARGON2_TIME_COST": "1",
                "ARGON2_MEMORY_KIB": "1024",
                "LLM_BASE_URL": model.server.base_url,
                "LLM_API_KEY": "bench",
                "LLM_MODEL": "fake-model",
                "LOGIN_MAX_FAILURES": "1000",
                # 12 connections a replica at most: the replicas and this script share the
                # server's max_connections (100 by default) with whatever else uses it
                "DB_POOL_SIZE": "8",
                "DB_MAX_OVERFLOW": "4",
            }
            try:
                bases = []
                for n in range(args.replicas):
                    base, proc = serve({**env, "DATA_DIR": f"{tmp}/r{n}"}, Path(tmp) / f"r{n}.log")
                    bases.append(base)
                    procs.append(proc)
                headers = token(bases[0], "bench-faults@example.com")
                figures = asyncio.run(outage(args, bases, headers, proxy, dsn))
                figures.update(kill_and_take_over(bases, procs, headers, model))
            finally:
                for proc in procs:
                    if proc.poll() is None:
                        proc.send_signal(signal.SIGTERM)
                for proc in procs:
                    try:
                        proc.wait(15)
                    except subprocess.TimeoutExpired:
                        proc.kill()
    model.server.stop()
    figures.update(replicas=args.replicas, clients=args.clients, outage_s=args.outage_s)
    print(json.dumps(figures, indent=2))
    if args.json_summary:
        args.json_summary.write_text(json.dumps(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
