"""Durable processing as an operator meets it: a process killed mid-document, then started again.

The service (and, for procrastinate, a worker) runs as a real process; it is killed with SIGKILL
while a 40-page PDF is half indexed, and the document must still end `ready`, complete.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.conftest import LONG_PDF_PAGES, long_pdf
from tests.service_process import _wait_ready, free_port

pytestmark = pytest.mark.e2e

PAGES = LONG_PDF_PAGES


def executable() -> str:
    exe = shutil.which("agent-service", path=str(Path(sys.executable).parent))
    assert exe, "the agent-service entry point is not installed next to this Python"
    return exe


@contextmanager
def process(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [executable(), *args],
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@contextmanager
def service(env: dict[str, str], log: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = free_port()
    args = ["serve", "--host", "127.0.0.1", "--port", str(port), "--migrate"]
    with process(args, env, log) as proc:
        base_url = f"http://127.0.0.1:{port}"
        _wait_ready(base_url, proc, log, 30)
        yield base_url, proc


@pytest.fixture
def env(tmp_path: Path, isolated_database_url: str) -> dict[str, str]:
    return {
        "DATA_DIR": str(tmp_path / "var"),
        "DATABASE_URL": isolated_database_url,
        "ENVIRONMENT": "production",
        "JWT_SECRET": "e2e-" + "0123456789abcdef" * 4,
        "ARGON2_TIME_COST": "1",
        "ARGON2_MEMORY_KIB": "1024",
        "JOB_LEASE_S": "2",  # a killed process's job is taken over two seconds later
        "JOB_POLL_INTERVAL_S": "0.2",
        "LOG_LEVEL": "WARNING",
    }


def register(client: httpx.Client) -> dict[str, str]:
    account = {"email": "reader@example.com", "password": "reader-password-1"}
    client.post("/api/auth/register", json=account)
    token = client.post("/api/auth/login", json=account).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def upload_and_wait_for_progress(client: httpx.Client, headers: dict[str, str]) -> str:
    r = client.post("/api/documents", files={"file": ("geotopo.pdf", long_pdf())}, headers=headers)
    assert r.status_code == 202, r.text
    document_id = str(r.json()["id"])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        document = client.get(f"/api/documents/{document_id}", headers=headers).json()
        if 0 < document["pages_processed"] < PAGES:
            return document_id
        assert document["status"] == "processing", document
        time.sleep(0.02)
    raise AssertionError("processing never got under way")


def wait_ready(client: httpx.Client, headers: dict[str, str], document_id: str) -> dict:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        document = dict(client.get(f"/api/documents/{document_id}", headers=headers).json())
        if document["status"] != "processing":
            return document
        time.sleep(0.1)
    raise AssertionError(f"not processed in time: {document}")


def test_a_document_survives_a_killed_service(env: dict[str, str], tmp_path: Path) -> None:
    log = tmp_path / "service.log"
    with service(env, log) as (base_url, proc), httpx.Client(base_url=base_url, timeout=30) as c:
        headers = register(c)
        document_id = upload_and_wait_for_progress(c, headers)
        proc.send_signal(signal.SIGKILL)  # no shutdown hook runs: the job stays `running`
        proc.wait()
    half = None
    with service(env, log) as (base_url, _), httpx.Client(base_url=base_url, timeout=30) as c:
        half = c.get(f"/api/documents/{document_id}", headers=headers).json()
        document = wait_ready(c, headers, document_id)

    assert 0 < half["pages_processed"] < PAGES, half  # the restart found it half done
    assert document["status"] == "ready", document["error"]
    assert (document["page_count"], document["pages_processed"]) == (PAGES, PAGES)
    assert document["progress"] == 1.0


@pytest.mark.skipif(
    not os.environ.get("TEST_DATABASE_URL"), reason="procrastinate needs PostgreSQL"
)
def test_a_document_survives_a_killed_worker(env: dict[str, str], tmp_path: Path) -> None:
    env = {**env, "JOB_RUNNER": "procrastinate"}
    log = tmp_path / "service.log"
    with service(env, log) as (base_url, _), httpx.Client(base_url=base_url, timeout=30) as c:
        headers = register(c)
        with process(["worker"], env, tmp_path / "worker-1.log") as first_worker:
            document_id = upload_and_wait_for_progress(c, headers)
            first_worker.send_signal(signal.SIGKILL)
            first_worker.wait()
        half = c.get(f"/api/documents/{document_id}", headers=headers).json()
        with process(["worker"], env, tmp_path / "worker-2.log"):
            document = wait_ready(c, headers, document_id)

    assert 0 < half["pages_processed"] < PAGES, half
    assert document["status"] == "ready", document["error"]
    assert (document["page_count"], document["pages_processed"]) == (PAGES, PAGES)
