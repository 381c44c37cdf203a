"""What an open chat stream holds in the service's memory, by owner (tracemalloc).

    .venv/bin/python benchmarks/profile_stream_memory.py [--streams 40] [--frames 12]

One process on 127.0.0.1: the service (uvicorn, SQLite in a temporary folder) and a paced upstream
(bench_streams' raw one: --words words, one every 0.1 s), and N clients streaming
`POST /api/agent/chat/stream` at once. Half-way through the answers, Python's allocations are
compared with a snapshot taken before the streams opened; what the clients allocated (any
allocation made under this script's client code) is left out. Prints the service's traced growth
per open stream and where it was allocated (our module, a library, or Python's own).

`bench_streams.py` reports RSS growth per open stream instead, which also counts what the
allocator keeps and what grows with the load rather than per stream: on SQLite each pooled
connection caches up to 2 MiB of pages (SQLite's default cache_size) and the pool opens more of
them as the streams grow, up to DB_POOL_SIZE + DB_MAX_OVERFLOW. tracemalloc slows the process
several times over, so its busy timeout is raised here; the figures are memory, not time.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import gc
import inspect
import sys
import tempfile
import tracemalloc
from pathlib import Path

import httpx
import uvicorn
from bench_agent_turn import free_port
from bench_streams import serve_raw_upstream
from pydantic import SecretStr

from agent_service import migrations
from agent_service.app import create_app
from agent_service.settings import Settings

WORDS, DELAY = 40, 0.1
THIS_FILE = str(Path(__file__).resolve())


async def stream_once(client: httpx.AsyncClient, headers: dict[str, str], conversation: str) -> int:
    body = {"message": "hi", "conversation_id": conversation}
    async with client.stream("POST", "/api/agent/chat/stream", json=body, headers=headers) as r:
        assert r.status_code == 200, (await r.aread())[:300]
        return sum([1 async for _ in r.aiter_lines()])


async def measure(settings: Settings, streams: int, frames: int) -> None:
    upstream = free_port()
    settings.llm_base_url = f"http://127.0.0.1:{upstream}/v1"
    upstream_task = asyncio.create_task(serve_raw_upstream(upstream, WORDS, DELAY))
    port = free_port()
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=port, log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
    server_task = asyncio.create_task(server.serve())
    async with asyncio.timeout(30):
        while not server.started:
            if server_task.done():
                server_task.result()  # its startup failed: say why
            await asyncio.sleep(0.01)
    limits = httpx.Limits(max_connections=streams + 10)
    base_url = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(base_url=base_url, timeout=120, limits=limits) as client:
        account = {"email": "memory@example.com", "password": "memory-profile-1"}
        await client.post("/api/auth/register", json=account)
        token = (await client.post("/api/auth/login", json=account)).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        conversations = []
        for _ in range(streams):
            r = await client.post(
                "/api/conversations", json={"agent_type": "assistant"}, headers=headers
            )
            conversations.append(r.json()["id"])
        # warm up: pools, caches and first-request state are not a stream's
        await asyncio.gather(*(stream_once(client, headers, c) for c in conversations[:10]))
        gc.collect()
        tracemalloc.start(frames)
        before = tracemalloc.take_snapshot()
        tasks = [asyncio.create_task(stream_once(client, headers, c)) for c in conversations]
        await asyncio.sleep(WORDS * DELAY / 2)
        during = tracemalloc.take_snapshot()
        tracemalloc.stop()
        async with asyncio.timeout(300):
            lines = await asyncio.gather(*tasks)
    server.should_exit = True
    async with asyncio.timeout(30):
        await server_task
    upstream_task.cancel()
    print(f"{streams} streams, {min(lines)}-{max(lines)} SSE lines each")
    print_growth(before, during, streams)


def client_lines() -> range:
    """The lines of the clients' code: what is allocated under them is not the service's."""
    source, first = inspect.getsourcelines(stream_once)
    return range(first, first + len(source))


CLIENT_LINES = client_lines()


def owner(trace: tracemalloc.Traceback) -> str | None:
    """Where the allocation happened: our module, else the library or standard module; None for
    the clients' own allocations."""
    if any(frame.filename == THIS_FILE and frame.lineno in CLIENT_LINES for frame in trace):
        return None
    innermost = trace[-1].filename
    if "/agent_service/" in innermost:
        return "agent_service/" + innermost.rsplit("/agent_service/", 1)[1]
    if "site-packages/" in innermost:
        return innermost.split("site-packages/", 1)[1].split("/")[0]
    return "python: " + "/".join(Path(innermost).parts[-2:])


def print_growth(before: tracemalloc.Snapshot, during: tracemalloc.Snapshot, streams: int) -> None:
    ignore = [tracemalloc.Filter(False, tracemalloc.__file__)]
    diff = during.filter_traces(ignore).compare_to(before.filter_traces(ignore), "traceback")
    owners: collections.Counter[str] = collections.Counter()
    for stat in diff:
        name = owner(stat.traceback)
        if name is not None:
            owners[name] += stat.size_diff
    total = sum(owners.values())
    print(f"service's traced growth: {total / 1024 / streams:.1f} KiB per open stream")
    for name, size in owners.most_common(15):
        print(f"  {size / 1024 / streams:6.1f} KiB  {name}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", type=int, default=40)
    parser.add_argument(
        "--frames", type=int, default=12, help="traceback depth kept per allocation"
    )
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="stream-memory-"))
    url = f"sqlite+aiosqlite:///{folder / 'service.db'}"
    migrations.upgrade(url)
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        environment="test",
        database_url=url,
        data_dir=folder / "data",
        jwt_secret="memory-" + "0123456789abcdef" * 4,
        argon2_time_cost=1,
        argon2_memory_kib=1024,
        argon2_parallelism=1,
        llm_api_key=SecretStr("upstream-key"),
        llm_model="fake-model",
        sqlite_busy_timeout_ms=120_000,  # tracemalloc makes every transaction slow
    )
    asyncio.run(measure(settings, args.streams, args.frames))
    return 0


if __name__ == "__main__":
    sys.exit(main())
