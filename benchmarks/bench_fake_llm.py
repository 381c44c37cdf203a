"""Cost of the fake LLM: one in-process call against a bare respx route, and the server's requests/s.

    .venv/bin/python benchmarks/bench_fake_llm.py [--calls N] [--server-requests N] [--max-seconds S]
        [--json results.json]

1. The same request through the same httpx.AsyncClient, answered by the in-process fake and by a respx
   route returning the fake's own canned JSON body. Rounds alternate; the ratio of medians is printed.
   Goal: <= 1.5. Also shown through the openai SDK (given that httpx client), where the SDK dominates.
2. Requests per second of FakeLLMServer on 127.0.0.1, bounded in count and in time. Goal: >= 2,000.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import openai
import respx

from agent_testkit import FakeLLM, FakeLLMServer

MESSAGES = [
    {"role": "system", "content": "You manage tasks."},
    {"role": "user", "content": "Add a task"},
]
BODY = {"model": "gpt-test", "messages": MESSAGES}
REPLY = "I created the task for you."


async def per_call_seconds(call: Callable[[], Awaitable[object]], calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        await call()
    return (time.perf_counter() - start) / calls


async def compare(calls: int, rounds: int) -> dict[str, Any]:
    fake = FakeLLM(strict=False, default=FakeLLM.reply(REPLY))
    url = fake.base_url + "/chat/completions"
    async with httpx.AsyncClient() as client:
        with fake:
            canned = (await client.post(url, json=BODY)).content

            async def plain() -> object:
                return (await client.post(url, json=BODY)).json()

            sdk = openai.AsyncOpenAI(base_url=fake.base_url, api_key="sk-bench", http_client=client)

            async def through_sdk() -> object:
                return await sdk.chat.completions.create(model="gpt-test", messages=MESSAGES)  # type: ignore[arg-type]

            fake_plain, fake_sdk = [], []
            for _ in range(rounds):
                fake_plain.append(await per_call_seconds(plain, calls))
                fake_sdk.append(await per_call_seconds(through_sdk, calls))
                fake.calls.clear()
        respx_plain, respx_sdk = [], []
        with respx.mock:
            respx.post(url).respond(
                200, content=canned, headers={"content-type": "application/json"}
            )
            for _ in range(rounds):
                respx_plain.append(await per_call_seconds(plain, calls))
                respx_sdk.append(await per_call_seconds(through_sdk, calls))
    return {
        "httpx": report("httpx.AsyncClient", fake_plain, respx_plain),
        "openai_sdk": report("openai SDK on httpx", fake_sdk, respx_sdk),
    }


def report(label: str, fake: list[float], bare: list[float]) -> dict[str, float]:
    f, r = statistics.median(fake), statistics.median(bare)
    print(
        f"{label:22s} in-process fake {f * 1e6:7.1f} us/call   respx {r * 1e6:7.1f} us/call   ratio {f / r:.2f}"
    )
    return {"fake_us_per_call": f * 1e6, "respx_us_per_call": r * 1e6, "ratio": f / r}


async def load(
    host: str, port: int, path: str, total: int, max_seconds: float, concurrency: int
) -> None:
    """A minimal keep-alive HTTP/1.1 client (raw asyncio streams), so the load generator costs little."""
    payload = json.dumps(BODY).encode()
    request = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\n\r\n"
    ).encode() + payload
    done = 0
    deadline = time.perf_counter() + max_seconds

    async def worker() -> None:
        nonlocal done
        reader, writer = await asyncio.open_connection(host, port)
        while done < total and time.perf_counter() < deadline:
            done += 1
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            if not head.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(head.decode(errors="replace"))
            length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
            await reader.readexactly(length)
        writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    print(done, time.perf_counter() - start)


def server_throughput(total: int, max_seconds: float, concurrency: int) -> dict[str, Any]:
    """The server in this process, the load generator in another (as an app under test would be)."""
    with FakeLLMServer(strict=False, default=FakeLLM.reply(REPLY)) as server:
        path = "/v1/chat/completions"
        argv = [sys.executable, __file__, "--load", f"{server.host}:{server.port}{path}"]
        argv += ["--server-requests", str(total), "--max-seconds", str(max_seconds)]
        argv += ["--concurrency", str(concurrency)]
        output = subprocess.run(
            argv, capture_output=True, text=True, check=True, timeout=max_seconds + 30
        )
        done_text, elapsed_text = output.stdout.split()
        server.calls.clear()
    done, elapsed = int(done_text), float(elapsed_text)
    print(
        f"server on 127.0.0.1     {done} requests in {elapsed:.2f} s = {done / elapsed:,.0f} req/s "
        f"({concurrency} keep-alive connections from another process)"
    )
    return {"requests": done, "seconds": elapsed, "requests_per_s": done / elapsed}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=300, help="calls per round (default 300)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds per contender (default 5)")
    parser.add_argument(
        "--server-requests", type=int, default=5000, help="server requests, at most"
    )
    parser.add_argument(
        "--max-seconds", type=float, default=15.0, help="server phase stops after this"
    )
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--load", help=argparse.SUPPRESS)  # internal: run as the load generator
    args = parser.parse_args()
    if args.load:
        address, _, path = args.load.partition("/")
        host, _, port = address.partition(":")
        limits = (args.server_requests, args.max_seconds, args.concurrency)
        asyncio.run(load(host, int(port), "/" + path, *limits))
        return
    results = asyncio.run(compare(args.calls, args.rounds))
    results["server"] = server_throughput(args.server_requests, args.max_seconds, args.concurrency)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
