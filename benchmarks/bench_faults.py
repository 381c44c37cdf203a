"""Recovery from faults, measured from outside: a PostgreSQL outage under load, and many chat clients
on embedded SQLite.

    .venv/bin/python benchmarks/bench_faults.py [--only postgres sqlite-lock sqlite] [--clients-pg 30]
        [--replicas-pg 3] [--outage-s 10] [--settle-s 60] [--clients-sqlite 50] [--turns-sqlite 3]
        [--workers-sqlite 1] [--json PATH]

Processes on 127.0.0.1, all started here: the kit's FakeLLMServer (a turn is a `create_task` tool
call named after the user's message, then a reply, each streamed over --llm-delay seconds), and
`agent-service serve`. Every client is a user of its own sending `POST /api/agent/chat` turns back
to back (after a non-200 it waits the Retry-After, at most 1 s, as a polite client does).

postgres: --replicas-pg serve processes reach one fresh database through the TCP proxy of
tests/faults.py, client i talking to replica i modulo their number. The
clients take a first turn each (not counted), run healthy for --healthy-s (the floor: turns/s
and p50 of this run, same load), then the proxy is cut for --outage-s (PostgreSQL restarting, as
the service sees it), restored, and the load goes on for --after-s. Printed: responses by status and error during and outside the outage
(a 500 is a bug: a database away must be 503 database_busy with Retry-After), time from the
restore to the first 200 and to every client's first 200, and the ratio of the latter to the
floor's p50; throughput after recovery over the floor's; --settle-s after the restore, the runs
not final (queued, running, requires_action: stuck ones); then one more turn per client (a
conversation that refuses it is stranded), and tasks stored against turns answered 200.

sqlite-lock: the same outage on embedded SQLite: one `serve --workers --replicas-pg` on a file,
--clients-pg clients, and another process holding the file's write lock (`BEGIN IMMEDIATE`, as a
backup or a migration would) for --outage-s; the same figures. Readers go on (WAL); writers wait
their busy timeout, then the service must answer 503 and finish every run once the lock is gone.

sqlite: --clients-sqlite clients send --turns-sqlite turns each, all at once, on a SQLite file
(one serve process, or --workers-sqlite of them sharing the port and the file).
Printed: errors by status (goal 0: no 500, no 503 in normal load), "database is locked" in the
service's log (goal 0), lost effects (turns answered 200 whose task is not stored; goal 0), and the
p50 of a turn at that load over its p50 with one client (the floor, same run).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import AsyncExitStack, ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from bench_agent_turn import database, free_port, keep_serving, postgres_reachable, process

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests/faults.py: the proxy the suite's fault tests use

JWT_SECRET = "bench-" + "0123456789abcdef" * 4
FINAL = ("completed", "failed", "cancelled", "interrupted")
TURN_TIMEOUT_S = 60.0


# -- the fake model (its own process) -------------------------------------------------------------


def serve_fake_llm(port: int, delay: float) -> None:
    from agent_testkit import FakeLLMServer
    from agent_testkit.fake_llm import RecordedCall, ScriptItem, reply, respond, tool_call

    pace = delay / 4  # about four chunks an answer

    def answer(call: RecordedCall) -> ScriptItem:
        if call.messages and call.messages[-1].get("role") == "tool":
            return reply("Done: it is on your list now.", chunk_delay=pace)
        return tool_call("create_task", title=call.last_user_message or "?", chunk_delay=pace)

    keep_serving(FakeLLMServer(port=port, strict=False, default=respond(answer)))


# -- the clients ------------------------------------------------------------------------------------


@dataclass
class Answer:
    client: int
    started: float
    ended: float
    status: int  # 0: no HTTP answer (the connection failed or timed out)
    error: str = ""


@dataclass
class Clients:
    headers: list[dict[str, str]] = field(default_factory=list)
    answers: list[Answer] = field(default_factory=list)
    turns: int = 0

    async def sign_up(self, http: httpx.AsyncClient, count: int) -> None:
        for i in range(count):
            email, password = f"bench{i}-{time.monotonic_ns()}@example.com", "bench-password-1"
            r = await http.post("/api/auth/register", json={"email": email, "password": password})
            r.raise_for_status()
            r = await http.post("/api/auth/login", json={"email": email, "password": password})
            r.raise_for_status()
            self.headers.append({"Authorization": f"Bearer {r.json()['access_token']}"})

    async def turn(self, http: httpx.AsyncClient, client: int) -> Answer:
        self.turns += 1
        message = {"message": f"task {client}-{self.turns}"}
        started = time.monotonic()
        try:
            r = await http.post("/api/agent/chat", json=message, headers=self.headers[client])
        except httpx.HTTPError as exc:
            answer = Answer(client, started, time.monotonic(), 0, type(exc).__name__)
        else:
            error = "" if r.status_code == 200 else _error_code(r)
            answer = Answer(client, started, time.monotonic(), r.status_code, error)
            if r.status_code != 200:
                wait = float(r.headers.get("retry-after", "1") or 1)
                await asyncio.sleep(min(wait, 1.0))
        self.answers.append(answer)
        return answer

    async def loop(self, http: httpx.AsyncClient, client: int, until: float) -> None:
        while time.monotonic() < until:
            answer = await self.turn(http, client)
            if answer.status == 0:
                await asyncio.sleep(0.5)


def _error_code(r: httpx.Response) -> str:
    try:
        return str(r.json().get("error", ""))
    except ValueError:
        return r.text[:40]


def http_client(base_url: str, clients: int) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=clients + 5, max_keepalive_connections=clients + 5)
    return httpx.AsyncClient(base_url=base_url, timeout=TURN_TIMEOUT_S, limits=limits)


def by_status(answers: list[Answer]) -> dict[str, int]:
    counted = Counter(f"{a.status} {a.error}".strip() for a in answers)
    return dict(sorted(counted.items()))


def p50_ms(answers: list[Answer]) -> float:
    ok = [a.ended - a.started for a in answers if a.status == 200]
    return statistics.median(ok) * 1000 if ok else float("nan")


# -- the service --------------------------------------------------------------------------------------


@contextmanager
def service(
    tmp: Path, database_url: str, llm_url: str, name: str, *, workers: int = 1
) -> Iterator[tuple[str, Path]]:
    port = free_port()
    exe = shutil.which("agent-service", path=str(Path(sys.executable).parent)) or "agent-service"
    env = {
        "DATA_DIR": str(tmp / f"var-{name}"),
        "DATABASE_URL": database_url,
        "ENVIRONMENT": "production",
        "JWT_SECRET": JWT_SECRET,
        "ARGON2_TIME_COST": "1",
        "ARGON2_MEMORY_KIB": "1024",
        "LLM_BASE_URL": llm_url,
        "LLM_API_KEY": "bench",
        "LLM_MODEL": "fake-model",
        "LOGIN_MAX_FAILURES": "1000",
    }
    args = [exe, "serve", "--host", "127.0.0.1", "--port", str(port), "--migrate"]
    args += ["--workers", str(workers)]
    log = tmp / f"service-{name}.log"
    with process(args, f"http://127.0.0.1:{port}/readyz", log, env):
        yield f"http://127.0.0.1:{port}", log


# -- postgres: an outage under load -------------------------------------------------------------------


def postgres_outage(args: argparse.Namespace, tmp: Path, llm_url: str) -> dict[str, Any]:
    from tests.faults import DatabaseProxy

    with (
        database("postgres", tmp, "faults") as direct_url,
        DatabaseProxy.for_url(direct_url) as proxy,
        ExitStack() as replicas,
    ):
        served = [
            replicas.enter_context(service(tmp, proxy.url(direct_url), llm_url, f"postgres-{n}"))
            for n in range(args.replicas_pg)
        ]  # started one after the other: the first migrates, the others find it done
        base_urls = [base_url for base_url, _ in served]
        figures = asyncio.run(outage_load(args, base_urls, proxy))
        figures.update(asyncio.run(after_settling(args, base_urls, direct_url, figures)))
        logs = "".join(log.read_text(errors="replace") for _, log in served)
        if args.logs:
            args.logs.mkdir(parents=True, exist_ok=True)
            for _, log in served:
                shutil.copy(log, args.logs / log.name)
        figures["tracebacks_in_logs"] = logs.count("Traceback")
    return figures


async def outage_load(args: argparse.Namespace, base_urls: list[str], proxy: Any) -> dict[str, Any]:
    """Client i goes to replica i modulo their number."""
    clients = Clients()
    async with AsyncExitStack() as stack:
        https = [
            await stack.enter_async_context(http_client(u, args.clients_pg)) for u in base_urls
        ]

        def http(i: int) -> httpx.AsyncClient:
            return https[i % len(https)]

        await clients.sign_up(https[0], args.clients_pg)
        await asyncio.gather(*(clients.turn(http(i), i) for i in range(args.clients_pg)))
        clients.answers.clear()  # a first turn each, not counted: the floor is a warm service
        started = time.monotonic()
        cut_at = started + args.healthy_s
        restore_at = cut_at + args.outage_s
        until = restore_at + args.after_s
        loops = [clients.loop(http(i), i, until) for i in range(args.clients_pg)]

        async def fault() -> None:
            await asyncio.sleep(cut_at - time.monotonic())
            proxy.cut()
            await asyncio.sleep(restore_at - time.monotonic())
            proxy.restore()

        await asyncio.gather(fault(), *loops)
    answers = clients.answers
    healthy = [a for a in answers if a.ended < cut_at]
    during = [a for a in answers if a.ended >= cut_at and a.started < restore_at]
    after = [a for a in answers if a.started >= restore_at]
    firsts = {}
    for a in sorted(answers, key=lambda a: a.ended):
        if a.status == 200 and a.ended >= restore_at:
            firsts.setdefault(a.client, a.ended - restore_at)
    floor_per_s = len([a for a in healthy if a.status == 200]) / args.healthy_s
    after_per_s = len([a for a in after if a.status == 200]) / args.after_s
    every = max(firsts.values()) if len(firsts) == args.clients_pg else float("nan")
    floor_p50 = p50_ms(healthy)
    return {
        "clients": args.clients_pg,
        "replicas": len(base_urls),
        "outage_s": args.outage_s,
        "healthy": by_status(healthy),
        "during_outage": by_status(during),
        "after_restore": by_status(after),
        "answers_500": sum(a.status == 500 for a in answers),
        "floor_turns_per_s": floor_per_s,
        "floor_p50_ms": floor_p50,
        "first_success_after_restore_s": min(firsts.values(), default=float("nan")),
        "every_client_succeeded_after_s": every,
        "recovery_over_floor_p50": every * 1000 / floor_p50 if floor_p50 else float("nan"),
        "throughput_after_over_floor": after_per_s / floor_per_s if floor_per_s else float("nan"),
        "turns_answered_200": sum(a.status == 200 for a in answers),
        "restored_at": restore_at,
        "headers": clients.headers,
    }


def read_rows(url: str, query: str) -> list[tuple[Any, ...]]:
    """One query on the database directly, not through the service (nor the proxy)."""
    if url.startswith("sqlite"):
        connection = sqlite3.connect(url.partition(":///")[2], timeout=30)
        try:
            return connection.execute(query).fetchall()
        finally:
            connection.close()
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://", 1)) as connection:
        return connection.execute(query).fetchall()


async def after_settling(
    args: argparse.Namespace, base_urls: list[str], direct_url: str, figures: dict[str, Any]
) -> dict[str, Any]:
    await asyncio.sleep(max(0.0, figures.pop("restored_at") + args.settle_s - time.monotonic()))
    rows = read_rows(direct_url, "SELECT status, count(*) FROM run GROUP BY status")
    runs = {status: count for status, count in rows}
    stuck = [
        [str(value) for value in found]
        for found in read_rows(
            direct_url,
            "SELECT id, status, owner, heartbeat_at, created_at, conversation_id FROM run "
            "WHERE status NOT IN ('completed', 'failed', 'cancelled', 'interrupted')",
        )
    ]
    row = read_rows(direct_url, "SELECT count(*) FROM task")[0]
    headers = figures.pop("headers")
    clients = Clients(headers=headers)
    async with AsyncExitStack() as stack:
        https = [await stack.enter_async_context(http_client(u, len(headers))) for u in base_urls]
        turns = [clients.turn(https[i % len(https)], i) for i in range(len(headers))]
        nexts = await asyncio.gather(*turns)
    return {
        "settle_s": args.settle_s,
        "runs_by_status": runs,
        "runs_not_final": sum(n for status, n in runs.items() if status not in FINAL),
        "not_final (id, status, owner, heartbeat, created, conversation)": stuck,
        "next_turn_refused": sum(a.status != 200 for a in nexts),
        "next_turn": by_status(list(nexts)),
        "tasks_stored": row[0] if row else 0,
    }


# -- sqlite-lock: another process holds the write lock under load ---------------------------------


class SQLiteWriteLock:
    """The proxy's `cut`/`restore` for a SQLite file: another process's write transaction."""

    def __init__(self, url: str) -> None:
        self.path = url.partition(":///")[2]
        self.connection: sqlite3.Connection | None = None

    def cut(self) -> None:
        # waits its turn like any writer (the service's own writes are short), then holds on
        self.connection = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        self.connection.execute("BEGIN IMMEDIATE")

    def restore(self) -> None:
        if self.connection is not None:
            self.connection.execute("ROLLBACK")
            self.connection.close()
            self.connection = None


def sqlite_lock_outage(args: argparse.Namespace, tmp: Path, llm_url: str) -> dict[str, Any]:
    with (
        database("sqlite", tmp, "faults-lock") as url,
        service(tmp, url, llm_url, "sqlite-lock", workers=args.replicas_pg) as (base_url, log),
    ):
        figures = asyncio.run(outage_load(args, [base_url], SQLiteWriteLock(url)))
        figures["replicas"] = f"{args.replicas_pg} workers of one serve, one file"
        figures.update(asyncio.run(after_settling(args, [base_url], url, figures)))
        text = log.read_text(errors="replace")
        if args.logs:
            args.logs.mkdir(parents=True, exist_ok=True)
            shutil.copy(log, args.logs / log.name)
        figures["tracebacks_in_logs"] = text.count("Traceback")
    return figures


# -- sqlite: many clients at once ------------------------------------------------------------------------


def sqlite_clients(args: argparse.Namespace, tmp: Path, llm_url: str) -> dict[str, Any]:
    workers = args.workers_sqlite
    with (
        database("sqlite", tmp, "faults") as url,
        service(tmp, url, llm_url, "sqlite", workers=workers) as (base_url, log),
    ):
        figures = asyncio.run(sqlite_load(args, base_url))
        figures["workers"] = workers
        figures["database_is_locked_in_log"] = log.read_text(errors="replace").count(
            "database is locked"
        )
    return figures


async def sqlite_load(args: argparse.Namespace, base_url: str) -> dict[str, Any]:
    count = args.clients_sqlite
    clients = Clients()
    async with http_client(base_url, count) as http:
        await clients.sign_up(http, count)
        for _ in range(3):  # the floor: one client alone, same service, same run
            await clients.turn(http, 0)
        floor = list(clients.answers)
        clients.answers.clear()
        started = time.monotonic()
        for _ in range(args.turns_sqlite):
            await asyncio.gather(*(clients.turn(http, i) for i in range(count)))
        seconds = time.monotonic() - started
        loaded = list(clients.answers)
        stored = 0
        for headers in clients.headers:
            r = await http.get("/api/tasks", params={"limit": 200}, headers=headers)
            stored += len(r.json()) if r.status_code == 200 else 0
    answered = sum(a.status == 200 for a in loaded) + sum(a.status == 200 for a in floor)
    return {
        "clients": count,
        "turns": len(loaded),
        "seconds": seconds,
        "by_status": by_status(loaded),
        "errors": sum(a.status != 200 for a in loaded),
        "turns_answered_200": answered,
        "tasks_stored": stored,
        "lost_effects": max(0, answered - stored),
        "floor_p50_ms": p50_ms(floor),
        "p50_ms": p50_ms(loaded),
        "p50_over_floor": p50_ms(loaded) / p50_ms(floor),
    }


# -- main -------------------------------------------------------------------------------------------------


def print_figures(name: str, figures: dict[str, Any]) -> None:
    print(f"\n{name}:")
    for key, value in figures.items():
        shown = f"{value:.2f}" if isinstance(value, float) else value
        print(f"  {key:34s} {shown}")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="mode")
    fake = sub.add_parser("fake-llm")
    fake.add_argument("--port", type=int, required=True)
    fake.add_argument("--delay", type=float, required=True)
    parser.add_argument(
        "--only", nargs="+", choices=["postgres", "sqlite-lock", "sqlite"], default=None
    )
    parser.add_argument("--clients-pg", type=int, default=30)
    parser.add_argument("--replicas-pg", type=int, default=3, help="serve processes, one database")
    parser.add_argument("--healthy-s", type=float, default=8.0)
    parser.add_argument("--outage-s", type=float, default=10.0)
    parser.add_argument("--after-s", type=float, default=15.0)
    parser.add_argument("--settle-s", type=float, default=60.0)
    parser.add_argument("--clients-sqlite", type=int, default=50)
    parser.add_argument("--turns-sqlite", type=int, default=3)
    parser.add_argument(
        "--workers-sqlite", type=int, default=1, help="serve --workers: processes on one file"
    )
    parser.add_argument("--llm-delay", type=float, default=0.2, help="seconds per model answer")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--logs", type=Path, help="keep the outages' service logs here")
    args = parser.parse_args()
    if args.mode == "fake-llm":
        serve_fake_llm(args.port, args.delay)
        return 0
    only = args.only or ["postgres", "sqlite-lock", "sqlite"]
    if "postgres" in only and not postgres_reachable():
        print("PostgreSQL unreachable (TEST_DATABASE_URL): its outage is skipped")
        only = [o for o in only if o != "postgres"]
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-faults-") as folder:
        tmp = Path(folder)
        llm_port = free_port()
        fake_args = [sys.executable, __file__, "fake-llm", "--port", str(llm_port)]
        fake_args += ["--delay", str(args.llm_delay)]
        llm_url = f"http://127.0.0.1:{llm_port}/v1"
        with process(fake_args, f"{llm_url}/models", tmp / "fake-llm.log"):
            if "sqlite" in only:
                results["sqlite"] = sqlite_clients(args, tmp, llm_url)
                print_figures("SQLite, clients at once", results["sqlite"])
            if "postgres" in only:
                results["postgres"] = postgres_outage(args, tmp, llm_url)
                print_figures("PostgreSQL outage under load", results["postgres"])
            if "sqlite-lock" in only:
                results["sqlite-lock"] = sqlite_lock_outage(args, tmp, llm_url)
                print_figures("SQLite write lock held under load", results["sqlite-lock"])
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
