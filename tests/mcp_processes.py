"""Start the suite's MCP server (tests/mcp_server.py) as a process on a free loopback port."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.service_process import free_port

ROOT = Path(__file__).resolve().parent.parent
STDIO_ARGS = ["-m", "tests.mcp_server", "stdio"]


@contextmanager
def mcp_http_server(transport: str = "streamable-http", *, within_s: float = 20.0) -> Iterator[str]:
    """Yields the server's URL once its port accepts connections; always stopped."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.mcp_server", transport, str(port)], cwd=ROOT
    )
    try:
        deadline = time.monotonic() + within_s
        while True:
            assert process.poll() is None, "the MCP server process exited"
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "the MCP server did not start in time"
                time.sleep(0.05)
        path = "/sse" if transport == "sse" else "/mcp"
        yield f"http://127.0.0.1:{port}{path}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
