"""One tool-calling agent turn through the real service, against a bare floor doing the same work.

    .venv/bin/python benchmarks/bench_agent_turn.py [--clients 1 50 200] [--backends sqlite postgres]
        [--turns N] [--json results.json]

A turn is `POST /api/agent/chat` answered with two model calls (a `create_task` tool call, then the
answer) and one task insert. Three processes on 127.0.0.1: the kit's FakeLLMServer (zero latency,
it answers a tool call to a user message and a reply to a tool result), `agent-service serve`, and
the floor, a bare Starlette endpoint making the same two model calls (same openai SDK over an httpx
pool) and one INSERT on the same kind of database. Both are measured in the same run, at each
client count, from the same client; "added" latency is service minus floor at the same percentile.

Goal (issue 4): service throughput >= 0.6 of the floor, added p50 <= 5 ms at 50 clients.
PostgreSQL: TEST_DATABASE_URL (or postgresql://postgres@127.0.0.1:5432/test) names a server where
a database is created for each target and dropped afterwards; skipped if unreachable.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:  # imported where a process serves it: the kit is slow to import
    from agent_testkit import FakeLLMServer

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "create_task",
            "description": "Create a task.",
            "parameters": {
                "type": "object",
                "properties": {"title": {"type": "string"}},
                "required": ["title"],
            },
        },
    }
]
MAX_TURN_SECONDS = 60.0


# -- the fake LLM (its own process) ----------------------------------------------------------------


def serve_fake_llm(port: int) -> None:
    from agent_testkit import FakeLLMServer
    from agent_testkit.fake_llm import RecordedCall, ScriptItem, reply, respond, tool_call

    def answer(call: RecordedCall) -> ScriptItem:
        if call.messages and call.messages[-1].get("role") == "tool":
            return reply("Done: the task is on your list.")
        return tool_call("create_task", title="Benchmark task")

    keep_serving(FakeLLMServer(port=port, strict=False, default=respond(answer)))


def keep_serving(server: FakeLLMServer) -> None:
    """Run a fake model in this process until SIGTERM, its call log kept short over a long run."""
    server.start()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    while True:
        time.sleep(5)
        server.calls.clear()


# -- the floor (its own process) -------------------------------------------------------------------


def serve_floor(port: int, database_url: str, llm_url: str) -> None:
    import openai
    import uvicorn
    from sqlalchemy import Column, DateTime, MetaData, String, Table, Uuid, insert
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from agent_service.db import create_engine, utcnow

    metadata = MetaData()
    task = Table(
        "floor_task",
        metadata,
        Column("id", Uuid, primary_key=True),
        Column("title", String(200)),
        Column("created_at", DateTime(timezone=True)),
    )
    engine = create_engine(database_url)
    http = httpx.AsyncClient(limits=httpx.Limits(max_connections=100))
    llm = openai.AsyncOpenAI(base_url=llm_url, api_key="bench", http_client=http, max_retries=0)

    async def turn(request: Request) -> JSONResponse:
        body = await request.json()
        messages: list[Any] = [
            {"role": "system", "content": "You manage tasks."},
            {"role": "user", "content": body["message"]},
        ]
        first = await llm.chat.completions.create(
            model="fake-model", messages=messages, tools=TOOLS
        )
        message = first.choices[0].message
        call = (message.tool_calls or [])[0]
        title = json.loads(call.function.arguments)["title"]  # type: ignore[union-attr]
        task_id = uuid.uuid4()
        async with engine.begin() as conn:
            await conn.execute(insert(task).values(id=task_id, title=title, created_at=utcnow()))
        messages += [
            message.model_dump(exclude_none=True),
            {"role": "tool", "tool_call_id": call.id, "content": json.dumps({"id": str(task_id)})},
        ]
        second = await llm.chat.completions.create(
            model="fake-model", messages=messages, tools=TOOLS
        )
        return JSONResponse({"response": second.choices[0].message.content})

    async def healthz(_request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        yield
        await http.aclose()
        await engine.dispose()

    routes = [Route("/turn", turn, methods=["POST"]), Route("/healthz", healthz)]
    app = Starlette(routes=routes, lifespan=lifespan)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


# -- processes ---------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def process(
    args: list[str], ready_url: str, log: Path, env: dict[str, str] | None = None
) -> Iterator[int]:
    with log.open("wb") as out:
        proc = subprocess.Popen(
            args, env={**os.environ, **(env or {})}, stdout=out, stderr=subprocess.STDOUT
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"{args[:3]} exited:\n{log.read_text()[-3000:]}")
                try:
                    if httpx.get(ready_url, timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{args[:3]} not ready:\n{log.read_text()[-3000:]}")
                time.sleep(0.1)
            yield proc.pid
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@contextmanager
def database(backend: str, tmp: Path, name: str) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp / (name + '.db')}"
        return
    import psycopg

    server = os.environ.get("TEST_DATABASE_URL") or DEFAULT_POSTGRES
    server = server.replace("postgresql://", "postgresql+psycopg://", 1)
    dsn = server.replace("postgresql+psycopg://", "postgresql://", 1)
    db = f"bench_{name}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{db}"')
    try:
        yield f"{server.rpartition('/')[0]}/{db}"
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


def postgres_reachable() -> bool:
    import psycopg

    server = os.environ.get("TEST_DATABASE_URL") or DEFAULT_POSTGRES
    try:
        with psycopg.connect(
            server.replace("postgresql+psycopg://", "postgresql://", 1), connect_timeout=3
        ):
            return True
    except psycopg.OperationalError:
        return False


# -- load ----------------------------------------------------------------------------------------------


@dataclass
class Figures:
    turns: int
    seconds: float
    turns_per_s: float
    p50_ms: float
    p99_ms: float
    cpu_ms_per_turn: float  # of the server process alone (not the fake LLM, not the client)
    errors: dict[str, int]  # turns not answered 200, by status


def figures(done: Load, cpu_s: float) -> Figures:
    ordered = sorted(done.latencies) or [float("nan")]
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    attempted = len(done.latencies) + sum(done.errors.values())
    return Figures(
        len(done.latencies),
        done.seconds,
        len(done.latencies) / done.seconds,
        statistics.median(ordered) * 1e3,
        p99 * 1e3,
        cpu_s / attempted * 1e3,
        done.errors,
    )


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@asynccontextmanager
async def http_client(base_url: str, clients: int) -> AsyncIterator[httpx.AsyncClient]:
    limits = httpx.Limits(max_connections=clients + 10, max_keepalive_connections=clients + 10)
    async with httpx.AsyncClient(
        base_url=base_url, limits=limits, timeout=MAX_TURN_SECONDS
    ) as client:
        yield client


Turn = tuple[str, dict[str, Any], dict[str, str]]  # path, JSON body, headers


@dataclass
class Load:
    latencies: list[float]  # of the turns answered 200
    seconds: float
    errors: dict[str, int]  # status (or exception name) -> count


async def load(client: httpx.AsyncClient, turns: list[list[Turn]]) -> Load:
    """Each entry of `turns` is one client doing its turns back to back; failures are counted."""
    latencies: list[float] = []
    errors: dict[str, int] = {}

    async def one_client(own: list[Turn]) -> None:
        for path, body, headers in own:
            started = time.perf_counter()
            try:
                status = str((await client.post(path, json=body, headers=headers)).status_code)
            except httpx.HTTPError as exc:
                status = type(exc).__name__
            if status == "200":
                latencies.append(time.perf_counter() - started)
            else:
                errors[status] = errors.get(status, 0) + 1

    started = time.perf_counter()
    await asyncio.gather(*(one_client(own) for own in turns))
    return Load(latencies, time.perf_counter() - started, errors)


async def service_turns(client: httpx.AsyncClient, clients: int, each: int) -> list[list[Turn]]:
    """One user; a fresh conversation for every turn, made beforehand (untimed), so each turn
    sends the model the same short history the floor sends and no two turns share a conversation."""
    email = f"bench-{uuid.uuid4().hex[:8]}@example.com"
    await client.post("/api/auth/register", json={"email": email, "password": "bench-password"})
    r = await client.post("/api/auth/login", json={"email": email, "password": "bench-password"})
    headers = {"Authorization": f"Bearer {r.json()['access_token']}"}

    async def conversation() -> str:
        r = await client.post(
            "/api/conversations", json={"agent_type": "assistant"}, headers=headers
        )
        return str(r.json()["id"])

    turns: list[list[Turn]] = []
    for _ in range(clients):
        ids = [await conversation() for _ in range(each)]
        body = "Add a benchmark task"
        turns.append(
            [("/api/agent/chat", {"message": body, "conversation_id": i}, headers) for i in ids]
        )
    return turns


async def measure(base_url: str, pid: int, clients: int, turns: int, *, service: bool) -> Figures:
    each = max(1, turns // clients)
    async with http_client(base_url, clients) as client:
        if service:
            warm_up, measured = (
                await service_turns(client, clients, 1),
                await service_turns(client, clients, each),
            )
        else:
            floor_turn: Turn = ("/turn", {"message": "Add a benchmark task"}, {})
            warm_up = [[floor_turn]] * clients
            measured = [[floor_turn] * each] * clients
        await load(client, warm_up)  # caches, the first inserts
    # A fresh pool: connections idle past the server's keep-alive (5 s) while slow warm-up turns
    # finish would be closed under the first measured requests.
    async with http_client(base_url, clients) as client:
        cpu_before = cpu_seconds(pid)
        done = await load(client, measured)
        cpu = cpu_seconds(pid) - cpu_before
    return figures(done, cpu)


def run_backend(
    backend: str, clients_levels: list[int], turns: int, tmp: Path, llm_url: str
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    service_port, floor_port = free_port(), free_port()
    exe = shutil.which("agent-service", path=str(Path(sys.executable).parent)) or "agent-service"
    with (
        database(backend, tmp, "service") as service_db,
        database(backend, tmp, "floor") as floor_db,
    ):
        env = {
            "DATA_DIR": str(tmp / f"var-{backend}"),
            "DATABASE_URL": service_db,
            "ENVIRONMENT": "production",
            "JWT_SECRET": "bench-" + "0123456789abcdef" * 4,
            "ARGON2_TIME_COST": "1",
            "ARGON2_MEMORY_KIB": "1024",
            "LLM_BASE_URL": llm_url,
            "LLM_API_KEY": "bench",
            "LLM_MODEL": "fake-model",
        }
        service_args = [
            exe,
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(service_port),
            "--migrate",
        ]
        floor_args = [
            sys.executable, __file__, "floor", "--port", str(floor_port),
            "--database-url", floor_db, "--llm-url", llm_url,
        ]  # fmt: skip
        with (
            process(
                service_args,
                f"http://127.0.0.1:{service_port}/readyz",
                tmp / f"service-{backend}.log",
                env,
            ) as service_pid,
            process(
                floor_args, f"http://127.0.0.1:{floor_port}/healthz", tmp / f"floor-{backend}.log"
            ) as floor_pid,
        ):
            for clients in clients_levels:
                count = max(turns, clients * 5)
                svc = asyncio.run(
                    measure(
                        f"http://127.0.0.1:{service_port}",
                        service_pid,
                        clients,
                        count,
                        service=True,
                    )
                )
                floor = asyncio.run(
                    measure(
                        f"http://127.0.0.1:{floor_port}", floor_pid, clients, count, service=False
                    )
                )
                rows.append(
                    {
                        "backend": backend,
                        "clients": clients,
                        "service": asdict(svc),
                        "floor": asdict(floor),
                        "throughput_ratio": svc.turns_per_s / floor.turns_per_s,
                        "added_p50_ms": svc.p50_ms - floor.p50_ms,
                        "added_p99_ms": svc.p99_ms - floor.p99_ms,
                    }
                )
                print_row(rows[-1], flush=True)
    return rows


HEADER = (
    f"{'backend':9s} {'clients':>7s} {'svc t/s':>8s} {'floor t/s':>9s} {'ratio':>6s} "
    f"{'svc p50':>8s} {'svc p99':>8s} {'fl p50':>7s} {'fl p99':>7s} {'+p50 ms':>8s} {'+p99 ms':>8s}"
    f" {'svc cpu':>8s} {'fl cpu':>7s}  errors (service / floor)"
)


def print_row(row: dict[str, Any], *, flush: bool = False) -> None:
    s, f = row["service"], row["floor"]
    print(
        f"{row['backend']:9s} {row['clients']:7d} {s['turns_per_s']:8.1f} {f['turns_per_s']:9.1f} "
        f"{row['throughput_ratio']:6.2f} {s['p50_ms']:8.1f} {s['p99_ms']:8.1f} {f['p50_ms']:7.1f} "
        f"{f['p99_ms']:7.1f} {row['added_p50_ms']:8.1f} {row['added_p99_ms']:8.1f} "
        f"{s['cpu_ms_per_turn']:8.1f} {f['cpu_ms_per_turn']:7.1f}  "
        f"{s['errors'] or '-'} / {f['errors'] or '-'}",
        flush=flush,
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    sub = parser.add_subparsers(dest="mode")
    fake = sub.add_parser("fake-llm")
    fake.add_argument("--port", type=int, required=True)
    floor = sub.add_parser("floor")
    floor.add_argument("--port", type=int, required=True)
    floor.add_argument("--database-url", required=True)
    floor.add_argument("--llm-url", required=True)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 50, 200])
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgres"])
    parser.add_argument(
        "--turns", type=int, default=300, help="turns per level (at least 5/client)"
    )
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--logs", type=Path, help="keep the processes' logs in this folder")
    args = parser.parse_args()
    if args.mode == "fake-llm":
        serve_fake_llm(args.port)
        return 0
    if args.mode == "floor":
        serve_floor(args.port, args.database_url, args.llm_url)
        return 0

    backends = list(args.backends)
    if "postgres" in backends and not postgres_reachable():
        print("PostgreSQL not reachable: benchmarking SQLite only.", file=sys.stderr)
        backends.remove("postgres")
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-agent-turn-") as tmp_name:
        tmp = Path(tmp_name)
        if args.logs:
            args.logs.mkdir(parents=True, exist_ok=True)
            tmp = args.logs
        llm_port = free_port()
        llm_url = f"http://127.0.0.1:{llm_port}/v1"
        fake_args = [sys.executable, __file__, "fake-llm", "--port", str(llm_port)]
        with process(fake_args, f"{llm_url}/models", tmp / "fake-llm.log"):
            print(HEADER)
            for backend in backends:
                rows += run_backend(backend, args.clients, args.turns, tmp, llm_url)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
