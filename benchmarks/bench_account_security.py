"""Account security under measurement: enumeration by timing, and a login storm against /healthz.

    .venv/bin/python benchmarks/bench_account_security.py [--samples 200] [--storm 24]
        [--backend sqlite|postgres] [--json results.json]

`agent-service serve` runs as a process on 127.0.0.1 with its production argon2 cost (64 MiB,
t=3, p=4) and one hashing thread per core. Two measurements (issue 22):

1. Enumeration: `POST /api/auth/forgot-password` and `POST /api/auth/register` for a known and an
   unknown address, interleaved in a random order, `--samples` each; the median answer time of
   each, and the difference known - unknown (goal: under 1 ms). The noise floor is measured in
   the same run: the same difference between two sets of unknown addresses, which no attacker
   can tell apart (on a busy machine it is over 1 ms by itself). Each request waits for the one
   before it to be fully done (30 ms apart), so work done after an answer (the mail, looking the
   account up) is not charged to the next request.
2. Login storm: `--storm` clients sending wrong passwords as fast as they are answered, while
   another client times `GET /healthz` one after another; p50 and p99 of those, against the same
   without the storm (goal: p99 under 50 ms). Run twice: with the default back-off (most of the
   storm is then answered 429 without hashing) and with LOGIN_MAX_FAILURES so high that every
   attempt is hashed (an attacker with many addresses and accounts).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.database import postgres_database  # noqa: E402
from tests.service_process import running_service  # noqa: E402

DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
KNOWN = {"email": "known@example.com", "password": "known-password-1"}
ENUMERATION_GOAL_MS = 1.0
HEALTHZ_P99_GOAL_MS = 50.0


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def timed(client: httpx.AsyncClient, path: str, body: dict[str, str], status: int) -> float:
    started = time.perf_counter()
    r = await client.post(path, json=body)
    elapsed = (time.perf_counter() - started) * 1000
    assert r.status_code == status, (path, r.status_code, r.text)
    return elapsed


async def enumeration(base_url: str, samples: int) -> dict[str, Any]:
    times: dict[str, list[float]] = {key: [] for key in ("fk", "fu", "fu2", "rk", "ru", "ru2")}
    rng = random.Random(22)
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        for i in range(samples):
            unknown = f"nobody-{i}-{rng.randrange(10**9)}@example.com"
            other = f"nobody-else-{i}-{rng.randrange(10**9)}@example.com"
            cases = [
                ("fk", "/api/auth/forgot-password", {"email": KNOWN["email"]}, 202),
                ("fu", "/api/auth/forgot-password", {"email": unknown}, 202),
                ("fu2", "/api/auth/forgot-password", {"email": other}, 202),
                ("rk", "/api/auth/register", KNOWN, 201),
                ("ru", "/api/auth/register", {"email": unknown, "password": "whatever-1"}, 201),
                ("ru2", "/api/auth/register", {"email": other, "password": "whatever-1"}, 201),
            ]
            rng.shuffle(cases)
            for key, path, body, status in cases:
                times[key].append(await timed(client, path, body, status))
                await asyncio.sleep(0.03)  # what runs after the answer is done by the next one
    medians = {key: statistics.median(values) for key, values in times.items()}
    return {
        "samples": samples,
        "forgot_known_ms": round(medians["fk"], 3),
        "forgot_unknown_ms": round(medians["fu"], 3),
        "forgot_difference_ms": round(medians["fk"] - medians["fu"], 3),
        "forgot_noise_floor_ms": round(medians["fu2"] - medians["fu"], 3),
        "register_known_ms": round(medians["rk"], 3),
        "register_unknown_ms": round(medians["ru"], 3),
        "register_difference_ms": round(medians["rk"] - medians["ru"], 3),
        "register_noise_floor_ms": round(medians["ru2"] - medians["ru"], 3),
    }


async def healthz_times(client: httpx.AsyncClient, count: int) -> list[float]:
    times = []
    for _ in range(count):
        started = time.perf_counter()
        r = await client.get("/healthz")
        times.append((time.perf_counter() - started) * 1000)
        assert r.status_code == 200
        await asyncio.sleep(0.005)
    return times


async def storm(base_url: str, clients: int, probes: int) -> dict[str, Any]:
    answers: dict[int, int] = {}
    stop = asyncio.Event()

    async def attacker(n: int) -> None:
        async with httpx.AsyncClient(base_url=base_url, timeout=120) as client:
            while not stop.is_set():
                body = {"email": KNOWN["email"], "password": f"wrong-{n}-{random.random()}"}
                r = await client.post("/api/auth/login", json=body)
                answers[r.status_code] = answers.get(r.status_code, 0) + 1

    async with httpx.AsyncClient(base_url=base_url, timeout=60) as probe:
        idle = await healthz_times(probe, probes)
        attackers = [asyncio.create_task(attacker(n)) for n in range(clients)]
        await asyncio.sleep(1.0)  # the storm is on
        started = time.perf_counter()
        loaded = await healthz_times(probe, probes)
        seconds = time.perf_counter() - started
        stop.set()
        await asyncio.gather(*attackers)
    logins = sum(answers.values())
    return {
        "clients": clients,
        "idle_p50_ms": round(percentile(idle, 0.5), 2),
        "idle_p99_ms": round(percentile(idle, 0.99), 2),
        "storm_p50_ms": round(percentile(loaded, 0.5), 2),
        "storm_p99_ms": round(percentile(loaded, 0.99), 2),
        "login_answers": {str(k): v for k, v in sorted(answers.items())},
        "logins_per_s": round(logins / max(seconds, 1e-9), 1),
    }


@contextmanager
def served(folder: Path, backend: str, log: Path, **extra: str) -> Iterator[str]:
    """The service on its own data folder and, on PostgreSQL, its own fresh database."""
    env = {
        "DATA_DIR": str(folder),
        "JWT_SECRET": "bench-" + "y" * 60,
        "LOG_LEVEL": "WARNING",
        "MAIL_BACKEND": "file",
        **extra,
    }
    with ExitStack() as stack:
        if backend == "postgres":
            server = os.environ.get("TEST_DATABASE_URL", DEFAULT_POSTGRES)
            server = server.replace("postgresql://", "postgresql+psycopg://", 1)
            env["DATABASE_URL"] = stack.enter_context(postgres_database(server))
        yield stack.enter_context(running_service(env, log_path=log))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--storm", type=int, default=24)
    parser.add_argument("--probes", type=int, default=300)
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--only", choices=["enumeration", "storm"])
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results: dict[str, Any] = {"backend": args.backend}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        runs = [
            ("default back-off", {}),
            ("every attempt hashed", {"LOGIN_MAX_FAILURES": "10000000"}),
        ]
        if args.only == "enumeration":
            runs = runs[:1]
        for i, (label, extra) in enumerate(runs):
            log = folder / f"serve-{i}.log"
            with served(folder / f"data-{i}", args.backend, log, **extra) as base_url:
                httpx.post(f"{base_url}/api/auth/register", json=KNOWN, timeout=60)
                if i == 0 and args.only != "storm":
                    figures = asyncio.run(enumeration(base_url, args.samples))
                    results["enumeration"] = figures
                    for what in ("forgot", "register"):
                        difference = figures[f"{what}_difference_ms"]
                        met = abs(difference) < ENUMERATION_GOAL_MS
                        print(
                            f"{what}: known {figures[f'{what}_known_ms']} ms, unknown "
                            f"{figures[f'{what}_unknown_ms']} ms (median of {args.samples}), "
                            f"difference {difference} ms (goal < {ENUMERATION_GOAL_MS} ms: "
                            f"{'met' if met else 'MISSED'}); noise floor (unknown vs unknown) "
                            f"{figures[f'{what}_noise_floor_ms']} ms",
                            flush=True,
                        )
                if args.only == "enumeration":
                    continue
                figures = asyncio.run(storm(base_url, args.storm, args.probes))
                results[f"storm, {label}"] = figures
                met = figures["storm_p99_ms"] < HEALTHZ_P99_GOAL_MS
                print(
                    f"login storm ({label}, {args.storm} clients, {figures['logins_per_s']} "
                    f"logins/s, answers {figures['login_answers']}): /healthz p50 "
                    f"{figures['storm_p50_ms']} ms, p99 {figures['storm_p99_ms']} ms (idle "
                    f"p99 {figures['idle_p99_ms']} ms, ratio "
                    f"{figures['storm_p99_ms'] / max(figures['idle_p99_ms'], 1e-9):.1f}x; goal "
                    f"p99 < {HEALTHZ_P99_GOAL_MS} ms: {'met' if met else 'MISSED'})",
                    flush=True,
                )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
