"""Documents: streamed upload memory, early rejection, ingestion speed, retrieval's share of an ask.

    .venv/bin/python benchmarks/bench_documents.py [--backend sqlite|postgres]
        [--corpus-chunks 10000] [--asks 20] [--json results.json]

Everything runs on 127.0.0.1: `agent-service serve` as a process (its RSS read from /proc), and the
kit's FakeLLMServer (zero latency, non-strict) in this process. Four measurements (issue 5):

1. Upload of 50 MB: peak RSS growth of the server while the body streams in (goal <= 16 MB), time.
   The file is a 50 MB "PDF" of filler that processing then rejects quickly, so the background job
   does not blur the upload's figure (RSS is sampled every 5 ms until the 202).
2. Rejection of 60 MB: bytes the client got to send before the 413 arrived (chunked, no length:
   the server counts as it reads), and with a declared Content-Length (refused before reading).
   Client-side counts include what the kernel's socket buffers took; the app itself stops at the
   limit (tests/integration/test_documents_upload.py counts what it pulled exactly).
3. Ingestion of GeoTopo-komprimiert.pdf (117 pages): pages/s from upload to `ready` (server
   timestamps), against pypdf's bare `extract_text()` of the same file in this process.
4. Ask, streamed: time to the first `message.delta`, on a one-chunk document and on a document of
   --corpus-chunks chunks; the difference is what retrieval over the corpus adds.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
GEOTOPO = ROOT / "tests" / "fixtures" / "pdf" / "GeoTopo-komprimiert.pdf"
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
MB = 1024 * 1024
LIMIT = 50 * MB
NEEDLE = "The vault of project Nightingale opens with the code PINEAPPLE-42."
MAX_WAIT_S = 600.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def bytes_read(pid: int) -> int:
    """`rchar` of /proc/<pid>/io: every byte the process got from read()/recv() (sockets too)."""
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    raise RuntimeError("no rchar")


class RssSampler:
    """Samples a process's RSS every 5 ms in a thread; `peak` is the largest seen."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_kib(self.pid))
            time.sleep(0.005)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_kib(self.pid))


@contextmanager
def postgres_database() -> Iterator[str]:
    import psycopg

    server = os.environ.get("TEST_DATABASE_URL") or DEFAULT_POSTGRES
    dsn = server.replace("postgresql+psycopg://", "postgresql://", 1)
    name = f"bench_docs_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{dsn.rpartition('/')[0]}/{name}"
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def service(env: dict[str, str], log: Path) -> Iterator[tuple[str, int]]:
    exe = shutil.which("agent-service", path=str(Path(sys.executable).parent))
    assert exe, "agent-service is not installed next to this Python"
    port = free_port()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [exe, "serve", "--host", "127.0.0.1", "--port", str(port), "--migrate"],
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(log.read_text()[-3000:])
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("service not ready")
            time.sleep(0.1)
        yield base, proc.pid
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def login(client: httpx.Client) -> dict[str, str]:
    account = {"email": "bench@example.com", "password": "bench-password-1"}
    client.post("/api/auth/register", json=account)
    token = client.post("/api/auth/login", json=account).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def wait_done(client: httpx.Client, headers: dict[str, str], document_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + MAX_WAIT_S
    while time.monotonic() < deadline:
        document = dict(client.get(f"/api/documents/{document_id}", headers=headers).json())
        if document["status"] != "processing":
            return document
        time.sleep(0.25)
    raise RuntimeError(f"document {document_id} not processed in {MAX_WAIT_S} s")


def multipart(filename: str, size: int, first: bytes, boundary: str) -> Iterator[bytes]:
    yield (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    yield first
    left = size - len(first)
    block = b"0123456789abcdef" * 4096  # 64 KiB
    while left > 0:
        yield block[: min(left, len(block))]
        left -= len(block)
    yield f"\r\n--{boundary}--\r\n".encode()


def bench_upload(base: str, pid: int, headers: dict[str, str]) -> dict[str, Any]:
    boundary = "bench-boundary"
    size = LIMIT - 1024
    with httpx.Client(base_url=base, timeout=120) as client:
        client.post("/api/documents", files={"file": ("warm.txt", b"warm up")}, headers=headers)
        time.sleep(0.5)
        baseline = rss_kib(pid)
        read_before = bytes_read(pid)
        started = time.perf_counter()
        with RssSampler(pid) as sampler:
            r = client.post(
                "/api/documents",
                content=multipart("big.pdf", size, b"%PDF-1.4\n", boundary),
                headers={**headers, "Content-Type": f"multipart/form-data; boundary={boundary}"},
            )
        elapsed = time.perf_counter() - started
        server_read = bytes_read(pid) - read_before
        assert r.status_code == 202, r.text
        wait_done(client, headers, r.json()["id"])
    return {
        "bytes": size,
        "server_bytes_read": server_read,
        "status": r.status_code,
        "seconds": round(elapsed, 3),
        "mb_per_s": round(size / MB / elapsed, 1),
        "rss_baseline_mb": round(baseline / 1024, 1),
        "rss_peak_growth_mb": round((sampler.peak - baseline) / 1024, 1),
        "goal_growth_mb": 16,
    }


def send_until_answered(base: str, token: str, *, declared: bool) -> dict[str, Any]:
    """A 60 MB upload over a raw socket: how much went out before the 413 came back."""
    host, port = base.removeprefix("http://").split(":")
    boundary = "bench-boundary"
    size = 60 * MB
    parts = multipart("huge.pdf", size, b"%PDF-1.4\n", boundary)
    body_length = size + 200  # framing, only for the declared case (approximately right)
    framing = f"Content-Length: {body_length}" if declared else "Transfer-Encoding: chunked"
    request = (
        f"POST /api/documents HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: {token}\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\n{framing}\r\n\r\n"
    ).encode()
    started = time.perf_counter()
    sock = socket.create_connection((host, int(port)))
    sock.sendall(request)
    sock.setblocking(False)
    pending = b""
    sent = 0
    response = b""
    done_sending = False
    while not _answered(response) and time.perf_counter() - started < 60:
        writable = [sock] if not done_sending else []
        readable, can_write, _ = select.select([sock], writable, [], 5)
        if readable:
            data = sock.recv(65536)
            if not data:
                break
            response += data
            continue
        if can_write:
            if not pending:
                part = next(parts, None)
                if part is None:
                    done_sending = True
                    continue
                pending = part if declared else b"%x\r\n%s\r\n" % (len(part), part)
            try:
                n = sock.send(pending)
            except (BrokenPipeError, ConnectionResetError):
                done_sending = True
                continue
            sent += n
            pending = pending[n:]
    elapsed = time.perf_counter() - started
    sock.close()
    status = response.split(b"\r\n", 1)[0].decode(errors="replace")
    body = response.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in response else b""
    return {
        "declared_length": declared,
        "status_line": status,
        "body_start": body[:120].decode(errors="replace"),
        "client_bytes_sent_before_answer": sent,
        "offered_bytes": size,
        "seconds": round(elapsed, 3),
    }


def _answered(response: bytes) -> bool:
    head, sep, body = response.partition(b"\r\n\r\n")
    return bool(sep) and (b"413" not in head.split(b"\r\n", 1)[0] or len(body) > 20)


def bench_rejection(base: str, pid: int, headers: dict[str, str]) -> list[dict[str, Any]]:
    results = []
    for declared in (False, True):
        baseline = rss_kib(pid)
        read_before = bytes_read(pid)
        with RssSampler(pid) as sampler:
            result = send_until_answered(base, headers["Authorization"], declared=declared)
        time.sleep(0.5)  # anything the server still reads after answering is counted too
        result["server_bytes_read"] = bytes_read(pid) - read_before
        result["limit_bytes"] = LIMIT
        result["rss_peak_growth_mb"] = round((sampler.peak - baseline) / 1024, 1)
        results.append(result)
    results.append(httpx_rejection(base, pid, headers))
    return results


def httpx_rejection(base: str, pid: int, headers: dict[str, str]) -> dict[str, Any]:
    """What an ordinary client sees: httpx streaming 60 MB from a generator (chunked)."""
    boundary = "bench-boundary"
    read_before = bytes_read(pid)
    started = time.perf_counter()
    try:
        with httpx.Client(base_url=base, timeout=60) as client:
            r = client.post(
                "/api/documents",
                content=multipart("huge.pdf", 60 * MB, b"%PDF-1.4\n", boundary),
                headers={**headers, "Content-Type": f"multipart/form-data; boundary={boundary}"},
            )
        outcome = f"{r.status_code} {r.json()['error']}"
    except httpx.HTTPError as exc:
        outcome = f"{type(exc).__name__}: {exc}"
    elapsed = time.perf_counter() - started
    time.sleep(0.5)
    return {
        "client": "httpx, chunked generator",
        "outcome": outcome,
        "seconds": round(elapsed, 3),
        "server_bytes_read": bytes_read(pid) - read_before,
    }


def bench_ingestion(base: str, headers: dict[str, str]) -> dict[str, Any]:
    from pypdf import PdfReader

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    bare = []
    for _ in range(2):
        started = time.perf_counter()
        reader = PdfReader(GEOTOPO)
        pages = len([page.extract_text() for page in reader.pages])
        bare.append(time.perf_counter() - started)
    with httpx.Client(base_url=base, timeout=120) as client:
        r = client.post(
            "/api/documents",
            files={"file": (GEOTOPO.name, GEOTOPO.read_bytes())},
            headers=headers,
        )
        document = wait_done(client, headers, r.json()["id"])
    assert document["status"] == "ready", document
    created = datetime.fromisoformat(document["created_at"])
    processed = datetime.fromisoformat(document["processed_at"])
    service_s = (processed - created).total_seconds()
    bare_s = min(bare)
    return {
        "pages": pages,
        "chunks": document["chunk_count"],
        "pypdf_bare_s": round(bare_s, 2),
        "pypdf_pages_per_s": round(pages / bare_s, 1),
        "service_s": round(service_s, 2),
        "service_pages_per_s": round(pages / service_s, 1),
        "ratio_service_to_bare": round(bare_s / service_s, 2),
    }


def corpus_text(chunks: int) -> str:
    """About `chunks` chunks (1000 new characters each) of Zipf-distributed words, where the
    question's words are common ("project" in most chunks, "code" and "vault" in many), so the
    full-text search ranks thousands of matches, not one; one needle sentence in the middle."""
    rng = random.Random(5)
    vocabulary = [
        "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 10)))
        for _ in range(20_000)
    ]
    for rank, word in ((10, "project"), (60, "code"), (150, "vault"), (400, "opens")):
        vocabulary[rank] = word
    weights = [1 / (rank + 1) for rank in range(len(vocabulary))]
    paragraphs = []
    for i in range(chunks):
        words = rng.choices(vocabulary, weights, k=170)
        paragraphs.append(" ".join(words)[:990] + ".")
        if i == chunks // 2:
            paragraphs.append(NEEDLE)
    return "\n\n".join(paragraphs)


QUESTIONS = {
    "common_words": "What code opens the vault of project Nightingale?",  # ~8,300 chunks match
    "rare_words": "Where is pineapple 42 mentioned?",  # one chunk matches
}


def time_to_first_token(
    client: httpx.Client, headers: dict[str, str], document_id: str, question: str
) -> float:
    started = time.perf_counter()
    with client.stream(
        "POST",
        f"/api/documents/{document_id}/ask",
        json={"question": question},
        headers=headers,
    ) as response:
        assert response.status_code == 200, response.read()
        first = None
        for line in response.iter_lines():  # read to the end: the next ask starts clean
            if first is None and line.startswith("event: message.delta"):
                first = time.perf_counter() - started
    if first is None:
        raise RuntimeError("no message.delta")
    return first


def bench_ask(base: str, headers: dict[str, str], chunks: int, asks: int) -> dict[str, Any]:
    with httpx.Client(base_url=base, timeout=MAX_WAIT_S) as client:
        small = client.post(
            "/api/documents", files={"file": ("needle.txt", NEEDLE.encode())}, headers=headers
        ).json()["id"]
        started = time.perf_counter()
        big = client.post(
            "/api/documents",
            files={"file": ("corpus.txt", corpus_text(chunks).encode())},
            headers=headers,
        ).json()["id"]
        small_doc = wait_done(client, headers, small)
        big_doc = wait_done(client, headers, big)
        indexing_s = time.perf_counter() - started
        assert small_doc["status"] == big_doc["status"] == "ready", big_doc
        for document_id in (small, big):  # warm up
            time_to_first_token(client, headers, document_id, QUESTIONS["common_words"])
        ttft: dict[str, list[float]] = {}
        for kind, question in QUESTIONS.items():
            ttft[f"one_chunk_{kind}"] = [
                time_to_first_token(client, headers, small, question) for _ in range(asks)
            ]
            ttft[f"corpus_{kind}"] = [
                time_to_first_token(client, headers, big, question) for _ in range(asks)
            ]

    def ms(values: list[float], q: float) -> float:
        ordered = sorted(values)
        return round(1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)

    result: dict[str, Any] = {
        "corpus_chunks": big_doc["chunk_count"],
        "corpus": "Zipf words; 'project' in most chunks, 'code'/'vault'/'opens' in many",
        "corpus_indexing_s": round(indexing_s, 1),
        "asks_each": asks,
    }
    for name, values in ttft.items():
        result[f"ttft_{name}_p50_ms"] = ms(values, 0.5)
        result[f"ttft_{name}_p95_ms"] = ms(values, 0.95)
    for kind in QUESTIONS:
        added = statistics.median(ttft[f"corpus_{kind}"]) - statistics.median(
            ttft[f"one_chunk_{kind}"]
        )
        result[f"added_by_retrieval_{kind}_p50_ms"] = round(1000 * added, 1)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--corpus-chunks", type=int, default=10_000)
    parser.add_argument("--asks", type=int, default=20)
    parser.add_argument("--json", type=Path)
    parser.add_argument(
        "--only",
        default="upload,reject,ingest,ask",
        help="comma-separated subset of upload,reject,ingest,ask",
    )
    args = parser.parse_args()

    from agent_testkit import FakeLLMServer
    from agent_testkit.fake_llm import reply

    results: dict[str, Any] = {"backend": args.backend}
    with (
        tempfile.TemporaryDirectory(prefix="bench-docs-") as tmp,
        FakeLLMServer(strict=False, default=reply("PINEAPPLE-42 [1].")) as fake,
        postgres_database() if args.backend == "postgres" else _no_database() as database_url,
    ):
        env = {
            "DATA_DIR": str(Path(tmp) / "var"),
            "DATABASE_URL": database_url,
            "ENVIRONMENT": "production",
            "JWT_SECRET": "bench-" + "0123456789abcdef" * 4,
            "ARGON2_TIME_COST": "1",
            "ARGON2_MEMORY_KIB": "1024",
            "LLM_BASE_URL": fake.base_url,
            "LLM_API_KEY": "bench",
            "LLM_MODEL": "fake-model",
            "LOG_LEVEL": "WARNING",
            "MAX_UPLOAD_BYTES": str(LIMIT),
            "JOB_POLL_INTERVAL_S": "0.1",
        }
        with service(env, Path(tmp) / "service.log") as (base, pid):
            with httpx.Client(base_url=base, timeout=30) as client:
                headers = login(client)
            only = set(args.only.split(","))
            steps = {
                "upload": ("upload_50mb", lambda: bench_upload(base, pid, headers)),
                "reject": ("reject_60mb", lambda: bench_rejection(base, pid, headers)),
                "ingest": ("ingestion", lambda: bench_ingestion(base, headers)),
                "ask": ("ask", lambda: bench_ask(base, headers, args.corpus_chunks, args.asks)),
            }
            for step, (name, run) in steps.items():
                if step in only:
                    results[name] = run()
                    print(json.dumps({name: results[name]}), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


@contextmanager
def _no_database() -> Iterator[str]:
    yield ""


if __name__ == "__main__":
    main()
