"""Uploads in bounded memory: the server's peak RSS growth for a 45 MB text upload, and for three.

    .venv/bin/python benchmarks/bench_upload_memory.py [--mb 45] [--backend sqlite|postgres]
        [--json results.json]

`agent-service serve` runs as a process on 127.0.0.1 (embedded SQLite by default, its in-process
job runner); its RSS is read from /proc. Each figure is the growth of the peak RSS (VmHWM, reset
through /proc/<pid>/clear_refs once the server is warm) over the RSS before the upload, from the
first byte sent until the document is `ready` (upload, sniffing, extraction, chunking, indexing).
The text is lines of words with a non-ASCII letter now and then (so a decoded `str` of it takes
two bytes a character, as most real text does). Goals (issue 22): one upload <= 64 MB, three at
once <= 192 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.service_process import running_service  # noqa: E402

MB = 1024 * 1024
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
GOALS = {1: 64, 3: 192}
WORDS = [
    "the",
    "vault",
    "of",
    "project",
    "nightingale",
    "opens",
    "with",
    "a",
    "code",
    "written",
    "in",
    "river",
    "stone",
    "café",
]


def text_file(path: Path, size: int) -> Path:
    rng = random.Random(22)
    line_words = [" ".join(rng.choice(WORDS) for _ in range(12)) for _ in range(997)]
    with path.open("w", encoding="utf-8") as out:
        written, i = 0, 0
        while written < size:
            line = f"{i}: {line_words[i % len(line_words)]}\n"
            out.write(line)
            written += len(line.encode())
            i += 1
    return path


def pid_of(base_url: str) -> int:
    port = base_url.rsplit(":", 1)[1]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"serve" in cmdline and port.encode() in cmdline:
                return int(entry.name)
    raise RuntimeError(f"no serve process on port {port}")


def status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/{pid}/status")


def login(client: httpx.Client) -> dict[str, str]:
    credentials = {"email": "bench@example.com", "password": "bench-password-1"}
    assert client.post("/api/auth/register", json=credentials).status_code == 201
    r = client.post("/api/auth/login", json=credentials)
    r.raise_for_status()
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def upload_and_wait(client: httpx.Client, headers: dict[str, str], path: Path) -> str:
    with path.open("rb") as file:
        files = {"file": (path.name, file, "text/plain")}
        r = client.post("/api/documents", files=files, headers=headers)
    assert r.status_code == 202, r.text
    document_id = r.json()["document_id"]
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        document = client.get(f"/api/documents/{document_id}", headers=headers).json()
        if document["status"] != "processing":
            assert document["status"] == "ready", document
            return str(document_id)
        time.sleep(0.2)
    raise RuntimeError("the document was not processed within 600 s")


def measure(env: dict[str, str], files: list[Path], warm: Path, log: Path) -> dict[str, float]:
    with running_service(env, log_path=log) as base_url:
        pid = pid_of(base_url)
        with httpx.Client(base_url=base_url, timeout=600) as client:
            headers = login(client)
            upload_and_wait(client, headers, warm)  # imports, pools, first job: warm
            Path(f"/proc/{pid}/clear_refs").write_text("5")  # peak RSS := current RSS
            before = status_kib(pid, "VmRSS")
            started = time.perf_counter()
            errors: list[BaseException] = []

            def one(path: Path) -> None:
                try:
                    with httpx.Client(base_url=base_url, timeout=600) as own:
                        upload_and_wait(own, headers, path)
                except BaseException as exc:  # reported below
                    errors.append(exc)

            threads = [threading.Thread(target=one, args=(path,)) for path in files]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            if errors:
                raise errors[0]
            elapsed = time.perf_counter() - started
            peak = status_kib(pid, "VmHWM")
    return {
        "rss_before_mb": round(before / 1024, 1),
        "rss_peak_mb": round(peak / 1024, 1),
        "growth_mb": round((peak - before) / 1024, 1),
        "seconds": round(elapsed, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mb", type=float, default=45)
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        warm = text_file(folder / "warm.txt", 200_000)
        files = [text_file(folder / f"upload-{i}.txt", int(args.mb * MB)) for i in range(3)]
        for count in (1, 3):
            env = {
                "DATA_DIR": str(folder / f"data-{count}"),
                "JWT_SECRET": "bench-" + "x" * 60,
                "LOG_LEVEL": "WARNING",
                "MAX_UPLOAD_BYTES": str(60 * MB),
            }
            if args.backend == "postgres":
                env["DATABASE_URL"] = os.environ.get("TEST_DATABASE_URL", DEFAULT_POSTGRES)
            log = folder / f"serve-{count}.log"
            figures = measure(env, files[:count], warm, log)
            goal = GOALS[count]
            figures.update(uploads=count, mb_each=args.mb, goal_mb=goal)
            results.append(figures)
            verdict = "met" if figures["growth_mb"] <= goal else "MISSED"
            print(
                f"{count} x {args.mb:g} MB text ({args.backend}): peak RSS "
                f"{figures['rss_before_mb']} -> {figures['rss_peak_mb']} MB, growth "
                f"{figures['growth_mb']} MB (goal <= {goal} MB: {verdict}), "
                f"{figures['seconds']} s to ready",
                flush=True,
            )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
