"""Streaming chat under load: the real service against a floor relaying the same paced upstream.

    .venv/bin/python benchmarks/bench_streams.py [--levels 100 500 1000] [--with-2000]
        [--seconds 20] [--database-url URL] [--max-active-turns N] [--json-summary PATH]

Processes on 127.0.0.1, all started here:

- the upstream, an OpenAI-compatible model streaming a --words answer, one word every
  --chunk-delay seconds (10 events/s per stream by default). `raw` (default) is a bare asyncio
  server writing pre-encoded chunks, so the model takes next to nothing from the shared cores;
  `fake` is the kit's FakeLLMServer answering `reply(text, chunk_delay=...)` (about 10x the CPU).
- the service, `agent-service serve` (one process), streaming `POST /api/agent/chat/stream`, each
  virtual client on a conversation of its own, the clients spread over --users users.
- the floor, a bare Starlette + sse-starlette endpoint relaying the same upstream through the same
  openai SDK, with no database and no auth: what any streaming proxy pays.
- the load, a raw-asyncio HTTP/1.1 client (uvloop) in its own process: N virtual clients, each
  streaming back to back for --seconds. A 503 `overloaded` is shed load, not an error: the client
  waits Retry-After, doubled on each further 503 up to 8x, jittered, as SDKs back off.

Servers are restarted for every level, so memory is measured from a fresh process. Per level and
target: streams completed, shed, errors by kind; time to the first `message.delta` p50/p95; stream
duration p50 (the upstream alone takes words x delay); the server's CPU per SSE event delivered;
streams per core (completed streams times words x delay, over the server's CPU seconds: how many
streams at the upstream's pace one core would carry at this load; the fair CPU comparison, as the
service merges the deltas of each RUN_EVENT_BATCH_S into one event and so sends fewer, larger
events than the floor once it lags: see ev/str); RSS growth per open stream (peak RSS during the level minus RSS
before it, over the most streams open at once); and, for the service, a sample of completed
streams checked against storage: the run is `completed` and the conversation holds the same answer.

SQLite by default (a file in a temporary folder). --database-url postgresql+psycopg://postgres@
127.0.0.1:5432/postgres names a server where a fresh database is created and dropped afterwards;
the CPU of that database's backends is shown too (the service's process no longer does that work).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from bench_agent_turn import cpu_seconds, database, free_port, keep_serving, process

DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
JWT_SECRET = "bench-" + "0123456789abcdef" * 4
MAX_BACKOFF = 8  # times Retry-After
SAMPLE_EVERY_S = 0.25
WARM_UP_STREAMS = 10


def answer_text(words: int) -> str:
    return " ".join(f"word{i}" for i in range(words))


def run_async(main: Any) -> Any:
    """uvloop when installed (uvicorn uses it too, so both servers and the load run on it)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


# -- the upstream model (its own process) ----------------------------------------------------------


def upstream_frames(words: int) -> list[bytes]:
    """One streamed chat completion, each chunk framed for HTTP chunked transfer encoding."""
    head = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 0}
    head["model"] = "fake-model"

    def choice(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {**head, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    deltas = [choice({"role": "assistant", "content": ""})]
    pieces = re.findall(r"\S+\s*", answer_text(words))
    deltas += [choice({"content": piece}) for piece in pieces]
    deltas.append(choice({}, "stop"))
    usage = {"prompt_tokens": 20, "completion_tokens": words, "total_tokens": 20 + words}
    deltas.append({**head, "choices": [], "usage": usage})
    events = [b"data: " + json.dumps(d).encode() + b"\n\n" for d in deltas]
    events.append(b"data: [DONE]\n\n")
    return [b"%x\r\n%s\r\n" % (len(e), e) for e in events]


async def serve_raw_upstream(port: int, words: int, delay: float) -> None:
    frames = upstream_frames(words)
    stream_head = (
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
    )
    models = b'{"object": "list", "data": []}'
    models_reply = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
    models_reply += b"content-length: %d\r\n\r\n%s" % (len(models), models)

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:  # keep-alive: the clients' pools reuse connections
                head = await reader.readuntil(b"\r\n\r\n")
                length = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
                await reader.readexactly(int(length.group(1)) if length else 0)
                if head.startswith(b"GET"):
                    writer.write(models_reply)
                    continue
                writer.write(stream_head + frames[0])
                for frame in frames[1:]:
                    await asyncio.sleep(delay)
                    writer.write(frame)
                    await writer.drain()
                writer.write(b"0\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(connection, "127.0.0.1", port, backlog=4096)
    async with server:
        await server.serve_forever()


def serve_fake_upstream(port: int, words: int, delay: float) -> None:
    from agent_testkit import FakeLLMServer
    from agent_testkit.fake_llm import reply

    keep_serving(
        FakeLLMServer(port=port, strict=False, default=reply(answer_text(words), chunk_delay=delay))
    )


# -- the floor (its own process) -------------------------------------------------------------------


def serve_floor(port: int, llm_url: str, max_connections: int) -> None:
    import openai
    import uvicorn
    from sse_starlette import EventSourceResponse, ServerSentEvent
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    limits = httpx.Limits(
        max_connections=max_connections, max_keepalive_connections=max_connections
    )
    http = httpx.AsyncClient(limits=limits, timeout=60)
    llm = openai.AsyncOpenAI(base_url=llm_url, api_key="bench", http_client=http, max_retries=0)

    async def relay(message: str) -> AsyncIterator[ServerSentEvent]:
        text: list[str] = []
        stream = await llm.chat.completions.create(
            model="fake-model",
            messages=[
                {"role": "system", "content": "You are a helpful assistant."},
                {"role": "user", "content": message},
            ],
            stream=True,
            stream_options={"include_usage": True},
        )
        async with stream:
            async for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    text.append(chunk.choices[0].delta.content)
                    data = json.dumps({"delta": chunk.choices[0].delta.content})
                    yield ServerSentEvent(data=data, event="message.delta")
        data = json.dumps({"response": "".join(text)})
        yield ServerSentEvent(data=data, event="message.completed")

    async def chat_stream(request: Request) -> EventSourceResponse:
        body = await request.json()
        return EventSourceResponse(relay(body["message"]), ping=15)

    async def healthz(_request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    routes = [Route("/stream", chat_stream, methods=["POST"]), Route("/healthz", healthz)]
    app = Starlette(routes=routes)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


# -- what is measured from /proc -----------------------------------------------------------------------


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def machine_busy_seconds() -> float:
    """CPU seconds every core of the machine spent not idle (the first line of /proc/stat)."""
    ticks = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = ticks[3] + ticks[4]  # idle, iowait
    return (sum(ticks[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def postgres_cpu_seconds(database_name: str | None) -> float:
    """CPU of the PostgreSQL backends connected to this database (their title names it)."""
    if not database_name:
        return 0.0
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
            if title.startswith(b"postgres: ") and f" {database_name} ".encode() in title:
                total += cpu_seconds(int(entry.name))
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return total


# -- the load (its own process) ------------------------------------------------------------------------


@dataclass
class Spec:
    """What the load process is told, as JSON."""

    target: str  # service | floor
    host: str
    port: int
    path: str
    clients: list[dict[str, Any]]  # one per virtual client: {"headers": {...}, "body": {...}}
    seconds: float
    grace_s: float
    expected: str
    server_pid: int
    upstream_pid: int
    postgres_database: str | None
    verify: int


@dataclass
class Stream:
    status: str  # "200", "503 overloaded", "ConnectionResetError", ...
    client: int = 0  # which virtual client (and so which user) made it
    events: int = 0
    first_delta_s: float | None = None
    seconds: float = 0.0
    completed: bool = False
    outcome: str = ""  # "completed", "shed", or what went wrong
    retry_after: float = 1.0
    run_id: str | None = None
    ids: dict[str, str] = field(default_factory=dict)  # conversation_id, message_id


def request_bytes(spec: Spec, client: dict[str, Any]) -> bytes:
    payload = json.dumps(client["body"]).encode()
    head = f"POST {spec.path} HTTP/1.1\r\nHost: {spec.host}:{spec.port}\r\n"
    head += "Content-Type: application/json\r\nAccept: text/event-stream\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in client["headers"].items())
    head += f"Content-Length: {len(payload)}\r\n\r\n"
    return head.encode() + payload


async def read_body(reader: asyncio.StreamReader, head: bytes) -> bytes:
    length = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
    if length:
        return await reader.readexactly(int(length.group(1)))
    body = b""
    while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
        body += (await reader.readexactly(size + 2))[:-2]
    return body


class Load:
    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.streams: list[Stream] = []
        self.open_now = 0
        self.open_peak = 0
        self.samples: list[tuple[float, int, int]] = []  # seconds, RSS KiB, open streams

    async def stream(self, client: int) -> Stream:
        started = time.perf_counter()
        reader, writer = await asyncio.open_connection(self.spec.host, self.spec.port)
        try:
            writer.write(request_bytes(self.spec, self.spec.clients[client]))
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            if status != 200:
                return self.refused(status, head, await read_body(reader, head))
            self.open_now += 1
            self.open_peak = max(self.open_peak, self.open_now)
            try:
                result = Stream("200", client)
                await self.follow(reader, result, started)
            finally:
                self.open_now -= 1
            result.seconds = time.perf_counter() - started
            if result.completed:
                result.outcome = "completed"
            elif not result.outcome:
                result.outcome = "stream ended without message.completed"
            return result
        finally:
            writer.close()

    def refused(self, status: int, head: bytes, body: bytes) -> Stream:
        try:
            code = str(json.loads(body).get("error"))
        except ValueError:
            code = body[:60].decode(errors="replace")
        result = Stream(f"{status} {code}")
        wait = re.search(rb"(?i)\r\nretry-after:\s*([\d.]+)", head)
        result.retry_after = float(wait.group(1)) if wait else 1.0
        result.outcome = "shed" if (status, code) == (503, "overloaded") else result.status
        return result

    async def follow(self, reader: asyncio.StreamReader, result: Stream, started: float) -> None:
        buffer = b""
        while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
            buffer += (await reader.readexactly(size + 2))[:-2]
            *blocks, buffer = buffer.split(b"\r\n\r\n")
            for block in blocks:
                if block and not block.startswith(b":"):  # ":" starts a heartbeat comment
                    self.event(block, result, started)

    def event(self, block: bytes, result: Stream, started: float) -> None:
        result.events += 1
        fields = dict(line.split(b": ", 1) for line in block.split(b"\r\n") if b": " in line)
        name = fields.get(b"event", b"message")
        if name == b"message.delta" and result.first_delta_s is None:
            result.first_delta_s = time.perf_counter() - started
        elif name == b"run.created":
            result.run_id = json.loads(fields[b"data"])["run_id"]
        elif name == b"message.completed":
            data = json.loads(fields[b"data"])
            if data["response"] == self.spec.expected:
                result.completed = True
            else:
                result.outcome = f"wrong answer {data['response'][:40]!r}"
            result.ids = {k: data[k] for k in ("conversation_id", "message_id") if k in data}
        elif name == b"error":
            result.outcome = f"error event {json.loads(fields[b'data']).get('error')}"

    async def virtual_client(self, client: int, start_at: float, stop_at: float) -> None:
        await asyncio.sleep(max(0.0, start_at - time.perf_counter()))
        shed_in_a_row = 0
        hard_stop = stop_at + self.spec.grace_s
        while time.perf_counter() < stop_at:
            try:
                async with asyncio.timeout(hard_stop - time.perf_counter()):
                    result = await self.stream(client)
            except TimeoutError:
                result = Stream("200", outcome="unfinished at the level's end")
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                result = Stream(type(exc).__name__, outcome=type(exc).__name__)
            self.streams.append(result)
            if result.outcome == "shed":
                backoff = min(MAX_BACKOFF, 2**shed_in_a_row) * random.uniform(0.5, 1.0)
                shed_in_a_row += 1
                await asyncio.sleep(result.retry_after * backoff)
            else:
                shed_in_a_row = 0
                if result.outcome != "completed":
                    await asyncio.sleep(0.5)  # no tight loop on a failing server

    async def sample(self, started: float) -> None:
        while True:
            self.samples.append(
                (time.perf_counter() - started, rss_kib(self.spec.server_pid), self.open_now)
            )
            await asyncio.sleep(SAMPLE_EVERY_S)

    async def run(self) -> dict[str, Any]:
        spec = self.spec
        warm_up = range(min(WARM_UP_STREAMS, len(spec.clients)))
        await asyncio.gather(*(self.stream(client) for client in warm_up))
        await asyncio.sleep(1.0)
        self.streams.clear()
        rss_before = rss_kib(spec.server_pid)
        before = self.cpu()
        started = time.perf_counter()
        ramp = min(2.0, spec.seconds / 4)
        stop_at = started + spec.seconds
        sampler = asyncio.create_task(self.sample(started))
        await asyncio.gather(
            *(
                self.virtual_client(client, started + ramp * client / len(spec.clients), stop_at)
                for client in range(len(spec.clients))
            )
        )
        wall = time.perf_counter() - started
        sampler.cancel()
        after = self.cpu()
        return {
            "wall_s": wall,
            "rss_before_kib": rss_before,
            "rss_peak_kib": max(rss for _, rss, _ in self.samples),
            "open_peak": self.open_peak,
            "cpu_s": {name: after[name] - before[name] for name in before},
            "streams": [vars(s) for s in self.streams],
            "stored": await self.verify() if spec.target == "service" else None,
        }

    def cpu(self) -> dict[str, float]:
        return {
            "server": cpu_seconds(self.spec.server_pid),
            "upstream": cpu_seconds(self.spec.upstream_pid),
            "client": time.process_time(),
            "postgres": postgres_cpu_seconds(self.spec.postgres_database),
            "machine": machine_busy_seconds(),
        }

    async def verify(self) -> dict[str, Any]:
        """A sample of completed streams: the run is completed and its answer is stored."""
        done = [s for s in self.streams if s.completed]
        sample = random.sample(done, min(self.spec.verify, len(done)))
        failed = [s for s in self.streams if s.status == "200" and not s.completed and s.run_id]
        problems: list[str] = []
        base = f"http://{self.spec.host}:{self.spec.port}"
        async with httpx.AsyncClient(base_url=base, timeout=60) as c:
            for s in sample:
                headers = self.spec.clients[s.client]["headers"]
                run = (await c.get(f"/api/runs/{s.run_id}", headers=headers)).json()
                path = f"/api/conversations/{s.ids['conversation_id']}/history"
                history = await c.get(path, headers=headers)
                stored = {m["id"]: m["content"] for m in history.json()["messages"]}
                if run.get("status") != "completed":
                    problems.append(f"run {s.run_id} is {run.get('status')!r}")
                elif stored.get(s.ids["message_id"]) != self.spec.expected:
                    problems.append(f"run {s.run_id}: answer not stored as streamed")
            failed_runs = [
                (
                    await c.get(
                        f"/api/runs/{s.run_id}", headers=self.spec.clients[s.client]["headers"]
                    )
                ).json()
                for s in failed[: self.spec.verify]
            ]
        return {
            "checked": len(sample),
            "ok": len(sample) - len(problems),
            "problems": problems[:10],
            "failed_streams_runs": [
                {"status": r.get("status"), "error": r.get("error")} for r in failed_runs[:10]
            ],
        }


def run_load(spec_path: Path, out_path: Path) -> None:
    spec = Spec(**json.loads(spec_path.read_text()))
    out_path.write_text(json.dumps(run_async(Load(spec).run())))


# -- one level against one target --------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def figures(raw: dict[str, Any], level: int, words: int, delay: float) -> dict[str, Any]:
    streams = raw["streams"]
    ok = [s for s in streams if s["outcome"] == "completed"]
    errors: dict[str, int] = {}
    for s in streams:
        if s["outcome"] not in ("completed", "shed"):
            errors[s["outcome"]] = errors.get(s["outcome"], 0) + 1
    served = [s for s in streams if s["status"] == "200"]
    events = sum(s["events"] for s in served)
    paced_seconds = len(ok) * words * delay  # what the streams needed at the upstream's pace
    cpu = raw["cpu_s"]
    work_s = cpu["server"] + cpu["postgres"]  # the database's own processes count on PostgreSQL
    first = [s["first_delta_s"] for s in served if s["first_delta_s"] is not None]
    growth = max(0, raw["rss_peak_kib"] - raw["rss_before_kib"])
    return {
        "level": level,
        "completed": len(ok),
        "shed": sum(s["outcome"] == "shed" for s in streams),
        "errors": errors,
        "first_delta_p50_ms": percentile(first, 0.5) * 1e3,
        "first_delta_p95_ms": percentile(first, 0.95) * 1e3,
        "duration_p50_s": percentile([s["seconds"] for s in ok], 0.5),
        "ideal_duration_s": words * delay,
        "events": events,
        "events_per_stream": sum(s["events"] for s in ok) / len(ok) if ok else float("nan"),
        "server_cpu_s": cpu["server"],
        "postgres_cpu_s": cpu["postgres"],
        "cpu_us_per_event": work_s / events * 1e6 if events else float("nan"),
        "core_busy": cpu["server"] / raw["wall_s"],
        "streams_per_core": paced_seconds / work_s if work_s else float("nan"),
        "open_peak": raw["open_peak"],
        "rss_before_mib": raw["rss_before_kib"] / 1024,
        "kib_per_stream": growth / raw["open_peak"] if raw["open_peak"] else float("nan"),
        "client_core_busy": cpu["client"] / raw["wall_s"],
        "upstream_core_busy": cpu["upstream"] / raw["wall_s"],
        # Cores busy with anything else on the machine (other people's tests, say) meanwhile.
        "others_cores_busy": (
            cpu["machine"] - cpu["server"] - cpu["postgres"] - cpu["upstream"] - cpu["client"]
        )
        / raw["wall_s"],
        "stored": raw["stored"],
    }


def measure(spec: Spec, work: Path, args: argparse.Namespace) -> dict[str, Any]:
    spec_path, out_path = work / f"spec-{spec.target}.json", work / f"out-{spec.target}.json"
    spec_path.write_text(json.dumps(vars(spec)))
    command = [sys.executable, __file__, "load", "--spec", str(spec_path), "--out", str(out_path)]
    limit = spec.seconds + spec.grace_s + 300
    subprocess.run(command, check=True, timeout=limit)
    return figures(
        json.loads(out_path.read_text()), len(spec.clients), args.words, args.chunk_delay
    )


@dataclass
class Target:
    """What a level needs to know about the servers of one run."""

    work: Path
    env: dict[str, str]
    upstream_pid: int
    llm_url: str
    postgres_database: str | None
    token: str = ""


async def conversations(base_url: str, headers: dict[str, str], count: int) -> list[str]:
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=60) as client:
        gate = asyncio.Semaphore(10)

        async def one() -> str:
            async with gate:
                r = await client.post("/api/conversations", json={"agent_type": "assistant"})
                r.raise_for_status()
                return str(r.json()["id"])

        return list(await asyncio.gather(*(one() for _ in range(count))))


def login(base_url: str, user: int) -> str:
    account = {"email": f"bench-{user}@example.com", "password": "bench-password"}
    with httpx.Client(base_url=base_url, timeout=30) as client:
        client.post("/api/auth/register", json=account)  # 409 after the first level
        r = client.post("/api/auth/login", json=account)
        r.raise_for_status()
        return str(r.json()["access_token"])


def level_spec(target: str, port: int, pid: int, run: Target, args: argparse.Namespace) -> Spec:
    return Spec(
        target=target,
        host="127.0.0.1",
        port=port,
        path="/api/agent/chat/stream" if target == "service" else "/stream",
        clients=[],
        seconds=args.seconds,
        grace_s=args.words * args.chunk_delay * 3 + 30,
        expected=answer_text(args.words),
        server_pid=pid,
        upstream_pid=run.upstream_pid,
        postgres_database=run.postgres_database if target == "service" else None,
        verify=args.verify,
    )


def run_service_level(level: int, run: Target, args: argparse.Namespace) -> dict[str, Any]:
    port = free_port()
    exe = shutil.which("agent-service", path=str(Path(sys.executable).parent)) or "agent-service"
    command = [exe, "serve", "--host", "127.0.0.1", "--port", str(port), "--migrate"]
    base = f"http://127.0.0.1:{port}"
    log = run.work / f"service-{level}.log"
    with process(command, f"{base}/readyz", log, run.env) as pid:
        users = [{"Authorization": f"Bearer {login(base, n)}"} for n in range(args.users)]
        spec = level_spec("service", port, pid, run, args)
        for n, headers in enumerate(users):  # the clients spread evenly over the users
            count = len(range(n, level, args.users))
            for conversation_id in asyncio.run(conversations(base, headers, count)):
                body = {"message": "Say the words.", "conversation_id": conversation_id}
                spec.clients.append({"headers": headers, "body": body})
        return measure(spec, run.work, args)


def run_floor_level(level: int, run: Target, args: argparse.Namespace) -> dict[str, Any]:
    port = free_port()
    command = [sys.executable, __file__, "floor", "--port", str(port), "--llm-url", run.llm_url]
    command += ["--llm-max-connections", str(args.llm_max_connections)]
    log = run.work / f"floor-{level}.log"
    with process(command, f"http://127.0.0.1:{port}/healthz", log) as pid:
        spec = level_spec("floor", port, pid, run, args)
        spec.clients = [{"headers": {}, "body": {"message": "Say the words."}}] * level
        return measure(spec, run.work, args)


# -- the report ------------------------------------------------------------------------------------------

HEADER = (
    f"{'db':8s} {'level':>5s} {'target':8s} {'done':>5s} {'shed':>5s} {'errors':>6s} "
    f"{'1st delta p50/p95 ms':>20s} {'dur p50 s':>9s} {'ev/str':>6s} {'cpu us/ev':>9s} {'core%':>5s} "
    f"{'streams/core':>12s} {'open':>5s} {'KiB/stream':>10s} {'stored':>7s}  core% client/upstream/others"
)


def print_row(backend: str, row: dict[str, Any]) -> None:
    stored = row["stored"]
    checked = f"{stored['ok']}/{stored['checked']}" if stored else "-"
    first = f"{row['first_delta_p50_ms']:.0f}/{row['first_delta_p95_ms']:.0f}"
    print(
        f"{backend:8s} {row['level']:5d} {row['target']:8s} {row['completed']:5d} "
        f"{row['shed']:5d} {sum(row['errors'].values()):6d} {first:>20s} "
        f"{row['duration_p50_s']:9.2f} {row['events_per_stream']:6.1f} {row['cpu_us_per_event']:9.0f} "
        f"{row['core_busy'] * 100:5.0f} {row['streams_per_core']:12.0f} {row['open_peak']:5d} "
        f"{row['kib_per_stream']:10.0f} {checked:>7s}  "
        f"{row['client_core_busy'] * 100:.0f}/{row['upstream_core_busy'] * 100:.0f}/"
        f"{row['others_cores_busy'] * 100:.0f}",
        flush=True,
    )
    if row["errors"]:
        print(f"{'':24s}errors: {row['errors']}", flush=True)
    if stored and (stored["problems"] or stored["failed_streams_runs"]):
        print(f"{'':24s}stored: {stored['problems']} {stored['failed_streams_runs']}")


def ratios(service: dict[str, Any], floor: dict[str, Any]) -> dict[str, float]:
    def ratio(name: str) -> float:
        return service[name] / floor[name] if floor[name] else float("nan")

    return {
        "cpu_per_event": ratio("cpu_us_per_event"),
        "streams_per_core": ratio("streams_per_core"),
        "kib_per_stream": ratio("kib_per_stream"),
        "first_delta_p50": ratio("first_delta_p50_ms"),
        "first_delta_p95": ratio("first_delta_p95_ms"),
    }


def print_ratios(backend: str, row: dict[str, Any]) -> None:
    r = row["ratio"]
    print(
        f"{backend:8s} {row['level']:5d} {'svc/floor':8s} {'':18s} "
        f"{r['first_delta_p50']:9.1f}x/{r['first_delta_p95']:.1f}x {'':16s} "
        f"{r['cpu_per_event']:8.1f}x {'':5s} {r['streams_per_core']:11.2f}x {'':5s} "
        f"{r['kib_per_stream']:9.1f}x",
        flush=True,
    )


# -- main ------------------------------------------------------------------------------------------------


@contextmanager
def service_database(url: str | None, work: Path) -> Iterator[tuple[str, str | None]]:
    """(SQLAlchemy URL, PostgreSQL database name or None): SQLite unless a PostgreSQL server is named."""
    if not url or url.startswith("sqlite"):
        yield url or f"sqlite+aiosqlite:///{work / 'service.db'}", None
        return
    os.environ["TEST_DATABASE_URL"] = url  # the server bench_agent_turn.database() creates on
    with database("postgres", work, "streams") as created:
        yield created, created.rpartition("/")[2]


def upstream_command(args: argparse.Namespace, port: int) -> list[str]:
    mode = "raw-upstream" if args.upstream == "raw" else "fake-upstream"
    command = [sys.executable, __file__, mode, "--port", str(port), "--words", str(args.words)]
    return [*command, "--chunk-delay", str(args.chunk_delay)]


def bench(args: argparse.Namespace, work: Path) -> list[dict[str, Any]]:
    backend = "postgres" if (args.database_url or "").startswith("postgres") else "sqlite"
    upstream_port = free_port()
    llm_url = f"http://127.0.0.1:{upstream_port}/v1"
    rows: list[dict[str, Any]] = []
    with (
        service_database(args.database_url, work) as (database_url, pg_name),
        process(
            upstream_command(args, upstream_port), f"{llm_url}/models", work / "upstream.log"
        ) as upstream_pid,
    ):
        env = {
            "DATA_DIR": str(work / "var"),
            "DATABASE_URL": database_url,
            "ENVIRONMENT": "production",
            "JWT_SECRET": JWT_SECRET,
            "JWT_EXPIRE_MINUTES": "600",
            "ARGON2_TIME_COST": "1",
            "ARGON2_MEMORY_KIB": "1024",
            "LLM_BASE_URL": llm_url,
            "LLM_API_KEY": "bench",
            "LLM_MODEL": "fake-model",
            "LLM_MAX_CONNECTIONS": str(args.llm_max_connections),
        }
        if args.max_active_turns:
            env["MAX_ACTIVE_TURNS"] = str(args.max_active_turns)
        run = Target(work, env, upstream_pid, llm_url, pg_name)
        print(HEADER, flush=True)
        for level in args.levels:
            service = {"target": "service", **run_service_level(level, run, args)}
            print_row(backend, service)
            floor = {"target": "floor", **run_floor_level(level, run, args)}
            print_row(backend, floor)
            row = {"backend": backend, "level": level, "service": service, "floor": floor}
            row["ratio"] = ratios(service, floor)
            print_ratios(backend, row)
            rows.append(row)
    return rows


def summary(rows: list[dict[str, Any]], args: argparse.Namespace) -> dict[str, Any]:
    """The few figures run_all.py prints: at the lowest level that shed nothing, and overall."""
    base = next((r for r in rows if not r["service"]["shed"]), rows[0])
    return {
        "benchmark": "streams",
        "backend": base["backend"],
        "level": base["level"],
        "cpu_per_event_ratio": base["ratio"]["cpu_per_event"],
        "streams_per_core_ratio": base["ratio"]["streams_per_core"],
        "kib_per_stream_ratio": base["ratio"]["kib_per_stream"],
        "first_delta_p95_ratio": base["ratio"]["first_delta_p95"],
        "service_streams_per_core": base["service"]["streams_per_core"],
        "service_kib_per_stream": base["service"]["kib_per_stream"],
        "errors": sum(sum(r[t]["errors"].values()) for r in rows for t in ("service", "floor")),
        "stored_ok": sum(r["service"]["stored"]["ok"] for r in rows),
        "stored_checked": sum(r["service"]["stored"]["checked"] for r in rows),
        "rows": rows,
        "settings": {k: str(v) for k, v in vars(args).items()},
    }


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="mode")
    for name in ("raw-upstream", "fake-upstream"):
        upstream = sub.add_parser(name)
        upstream.add_argument("--port", type=int, required=True)
        upstream.add_argument("--words", type=int, required=True)
        upstream.add_argument("--chunk-delay", type=float, required=True)
    floor = sub.add_parser("floor")
    floor.add_argument("--port", type=int, required=True)
    floor.add_argument("--llm-url", required=True)
    floor.add_argument("--llm-max-connections", type=int, required=True)
    load = sub.add_parser("load")
    load.add_argument("--spec", type=Path, required=True)
    load.add_argument("--out", type=Path, required=True)
    parser.add_argument("--levels", type=int, nargs="+", default=[100, 500, 1000])
    parser.add_argument("--with-2000", action="store_true", help="add a level of 2000 streams")
    parser.add_argument("--seconds", type=float, default=20, help="load per level (default 20)")
    parser.add_argument("--words", type=int, default=40, help="answer words: events per stream")
    parser.add_argument("--chunk-delay", type=float, default=0.1, help="upstream pace (s)")
    parser.add_argument("--upstream", choices=("raw", "fake"), default="raw")
    parser.add_argument(
        "--database-url",
        help=f"SQLite URL, or a PostgreSQL server to create a database on (e.g. {DEFAULT_POSTGRES})",
    )
    parser.add_argument("--max-active-turns", type=int, help="MAX_ACTIVE_TURNS (default: 200)")
    parser.add_argument(
        "--llm-max-connections",
        type=int,
        default=2000,
        help="LLM_MAX_CONNECTIONS of the service and the floor's pool (default 2000: not the limit)",
    )
    parser.add_argument("--users", type=int, default=20, help="users the clients are spread over")
    parser.add_argument("--verify", type=int, default=100, help="stored answers checked per level")
    parser.add_argument("--json-summary", type=Path, help="write the figures here as JSON")
    parser.add_argument("--logs", type=Path, help="keep the processes' logs in this folder")
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    if args.mode == "raw-upstream":
        run_async(serve_raw_upstream(args.port, args.words, args.chunk_delay))
        return 0
    if args.mode == "fake-upstream":
        serve_fake_upstream(args.port, args.words, args.chunk_delay)
        return 0
    if args.mode == "floor":
        serve_floor(args.port, args.llm_url, args.llm_max_connections)
        return 0
    if args.mode == "load":
        run_load(args.spec, args.out)
        return 0
    if args.with_2000:
        args.levels.append(2000)
    with (
        tempfile.TemporaryDirectory(prefix="bench-streams-") as tmp,
        nullcontext(args.logs) if args.logs else nullcontext(Path(tmp)) as work,
    ):
        work.mkdir(parents=True, exist_ok=True)
        rows = bench(args, work)
    if args.json_summary:
        args.json_summary.write_text(json.dumps(summary(rows, args), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
