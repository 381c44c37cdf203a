"""A 500 MB body to `POST /api/auth/login` (no token needed): the server's memory growth.

    .venv/bin/python benchmarks/bench_json_limit.py [--mb 500] [--json results.json]

`agent-service serve` runs as a process on 127.0.0.1 (embedded SQLite in a temporary folder); its
RSS is sampled from /proc/<pid>/status every 5 ms while this process streams the body at it over a
raw socket, once chunked (no length: the server counts as it reads) and once with a declared
Content-Length (refused before reading). Goal (issue 11, item 2): RSS growth under 5 MB; before the
limit the same body took the process from 170 MB to 1,670 MB.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

MB = 1024 * 1024
GOAL_MB = 5.0
CHUNK = 256 * 1024
MAX_SECONDS = 120.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


class PeakRss(threading.Thread):
    """Samples a process's RSS until stopped; keeps the highest."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = rss_kib(pid)
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(0.005):
            self.peak = max(self.peak, rss_kib(self.pid))


def start_server(data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    exe = shutil.which("agent-service", path=str(Path(sys.executable).parent))
    assert exe, "the agent-service entry point is not installed next to this Python"
    env = {**os.environ, "DATA_DIR": str(data_dir), "LOG_LEVEL": "WARNING"}
    env.pop("DATABASE_URL", None)
    log_path = data_dir / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [exe, "serve", "--host", "127.0.0.1", "--port", str(port), "--migrate"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120  # a loaded CI box can take a while to import and migrate
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"{base_url}/readyz", timeout=1).status_code == 200:
                return process, base_url
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"the service did not become ready:\n{log_path.read_text()[-3000:]}")


def send_body(port: int, total: int, *, chunked: bool) -> tuple[int, bytes]:
    """Streams up to `total` bytes; returns (bytes sent, the server's status line)."""
    framing = b"Transfer-Encoding: chunked" if chunked else b"Content-Length: %d" % total
    head = b"POST /api/auth/login HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
    block = b"x" * CHUNK
    frame = b"%x\r\n%s\r\n" % (CHUNK, block) if chunked else block
    sent = 0
    deadline = time.monotonic() + MAX_SECONDS
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head + framing + b"\r\n\r\n")
        sock.setblocking(False)
        answer = b""
        while sent < total and time.monotonic() < deadline and not answer:
            try:
                answer = sock.recv(4096)
            except BlockingIOError:
                pass
            except ConnectionError:
                break
            try:
                sent += sock.send(frame) if not answer else 0
            except BlockingIOError:
                time.sleep(0.001)
            except ConnectionError:
                break
        sock.settimeout(10)
        with contextlib.suppress(ConnectionError, TimeoutError):
            answer = answer or sock.recv(4096)
    return sent, answer.split(b"\r\n", 1)[0]


def measure(pid: int, port: int, total: int, *, chunked: bool) -> dict[str, object]:
    baseline = rss_kib(pid)
    sampler = PeakRss(pid)
    sampler.start()
    started = time.monotonic()
    sent, status = send_body(port, total, chunked=chunked)
    elapsed = time.monotonic() - started
    time.sleep(0.2)  # let the sampler see any late growth
    sampler.stopped.set()
    sampler.join()
    growth_mb = (sampler.peak - baseline) / 1024
    return {
        "framing": "chunked" if chunked else "content-length",
        "body_mb": total / MB,
        "client_sent_mb": round(sent / MB, 2),
        "status": status.decode(errors="replace"),
        "rss_before_mb": round(baseline / 1024, 1),
        "rss_growth_mb": round(growth_mb, 2),
        "seconds": round(elapsed, 3),
        "goal_met": growth_mb < GOAL_MB and b" 413 " in status,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=500, help="body size in MB")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        process, base_url = start_server(Path(tmp))
        try:
            port = int(base_url.rsplit(":", 1)[1])
            results = [
                measure(process.pid, port, args.mb * MB, chunked=chunked)
                for chunked in (True, False)
            ]
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
    for r in results:
        print(
            f"{r['framing']:>14}: {r['body_mb']:.0f} MB body, client sent {r['client_sent_mb']} MB, "
            f"{r['status']}, server RSS {r['rss_before_mb']} MB + {r['rss_growth_mb']} MB "
            f"(goal < {GOAL_MB:g} MB) in {r['seconds']} s: {'OK' if r['goal_met'] else 'MISSED'}"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0 if all(r["goal_met"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
