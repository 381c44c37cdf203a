"""/metrics of `agent-service serve --workers N`: every worker's counts in every scrape.

One METRICS_BIND port cannot be every worker's: before, the first worker took it and showed only
its own requests (the others logged "not started"); behind METRICS_TOKEN each scrape showed
whichever worker answered. Now the workers write to a shared folder (prometheus_client's
multiprocess mode), and METRICS_BIND is the serving process's own listener.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.service_process import free_port, running_service

pytestmark = pytest.mark.e2e

TOKEN = "metrics-token-for-e2e-0123456789"
REQUESTS = 60


def service_env(tmp_path: Path, database_url: str, **extra: str) -> dict[str, str]:
    return {
        "DATA_DIR": str(tmp_path / "var"),
        "DATABASE_URL": database_url,
        "JWT_SECRET": "e2e-" + "0123456789abcdef" * 4,
        "ENVIRONMENT": "production",
        **extra,
    }


def sample(exposition: str, name: str, **labels: str) -> float:
    """The value of one sample of a scrape (0 when it is not there yet)."""
    for family in text_string_to_metric_families(exposition):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return float(s.value)
    return 0.0


def scrape_until_both_workers_counted(url: str, **request: Any) -> str:
    """A scrape once both workers have started their app (each counts its start)."""
    deadline = time.monotonic() + 60
    while True:
        r = httpx.get(url, timeout=10, **request)
        assert r.status_code == 200, r.text
        starts = sample(r.text, "agent_service_process_starts_total")
        if starts == 2:
            return r.text
        assert starts < 2 and time.monotonic() < deadline, f"{starts} process starts"
        time.sleep(0.1)


def healthz_many(base_url: str) -> None:
    """REQUESTS concurrent requests, so that both workers take some."""
    with httpx.Client(base_url=base_url, timeout=10) as client, ThreadPoolExecutor(10) as pool:
        statuses = list(pool.map(lambda _: client.get("/healthz").status_code, range(REQUESTS)))
    assert statuses == [200] * REQUESTS


def test_metrics_bind_shows_every_workers_requests(
    tmp_path: Path, isolated_database_url: str
) -> None:
    metrics_port = free_port()
    env = service_env(tmp_path, isolated_database_url, METRICS_BIND=f"127.0.0.1:{metrics_port}")
    with running_service(
        env, log_path=tmp_path / "service.log", extra_args=("--workers", "2"), startup_timeout=90
    ) as base_url:
        scrape_until_both_workers_counted(f"http://127.0.0.1:{metrics_port}/metrics")
        healthz_many(base_url)
        r = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10)
        assert r.status_code == 200
        total = sample(r.text, "agent_service_http_requests_total", route="/healthz", status="200")
        assert total == REQUESTS
        assert httpx.get(f"{base_url}/metrics", timeout=10).status_code == 404  # not public
    assert "not started" not in (tmp_path / "service.log").read_text()


def test_metrics_token_shows_every_worker_whichever_answers(
    tmp_path: Path, isolated_database_url: str
) -> None:
    env = service_env(tmp_path, isolated_database_url, METRICS_TOKEN=TOKEN)
    auth = {"headers": {"Authorization": f"Bearer {TOKEN}"}}
    with running_service(
        env, log_path=tmp_path / "service.log", extra_args=("--workers", "2"), startup_timeout=90
    ) as base_url:
        assert httpx.get(f"{base_url}/metrics", timeout=10).status_code == 401
        scrape_until_both_workers_counted(f"{base_url}/metrics", **auth)
        healthz_many(base_url)
        for _ in range(10):  # any worker may answer a scrape: each shows the same counts
            r = httpx.get(f"{base_url}/metrics", timeout=10, **auth)
            assert sample(r.text, "agent_service_process_starts_total") == 2
            assert (
                sample(r.text, "agent_service_http_requests_total", route="/healthz", status="200")
                == REQUESTS
            )


def test_a_metrics_bind_in_use_is_reported_before_serving(tmp_path: Path) -> None:
    exe = shutil.which("agent-service", path=str(Path(sys.executable).parent))
    assert exe
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        bind = f"127.0.0.1:{taken.getsockname()[1]}"
        env = {**os.environ, **service_env(tmp_path, "", METRICS_BIND=bind)}
        result = subprocess.run(
            [exe, "serve", "--port", str(free_port()), "--workers", "2", "--migrate"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2, result.stderr
    assert f"METRICS_BIND {bind!r}" in result.stderr
    assert "Serving on" not in result.stderr
