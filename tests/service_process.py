"""Start `agent-service serve` as a real process on a free loopback port, and stop it."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running_service(
    env: dict[str, str],
    *,
    log_path: Path,
    startup_timeout: float = 30.0,
    extra_args: tuple[str, ...] = (),
) -> Iterator[str]:
    """Yields the base URL once /readyz answers 200; the process is always terminated."""
    port = free_port()
    exe = shutil.which("agent-service", path=str(Path(sys.executable).parent))
    assert exe, "the agent-service entry point is not installed next to this Python"
    full_env = {**os.environ, **env}
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [exe, "serve", "--host", "127.0.0.1", "--port", str(port), "--migrate", *extra_args],
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        base_url = f"http://127.0.0.1:{port}"
        try:
            _wait_ready(base_url, process, log_path, startup_timeout)
            yield base_url
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_ready(
    base_url: str, process: subprocess.Popen[bytes], log_path: Path, timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"service exited early:\n{log_path.read_text()[-3000:]}")
        try:
            if httpx.get(f"{base_url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"service not ready in {timeout}s:\n{log_path.read_text()[-3000:]}")
