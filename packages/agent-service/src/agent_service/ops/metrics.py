"""Prometheus metrics, registered once per process; with `serve --workers N`, summed over the
workers (prometheus_client's multiprocess mode: each worker writes its values to files in one
folder, `PROMETHEUS_MULTIPROC_DIR`, and a scrape reads them all)."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"  # read by prometheus_client when it is imported
# Set by `serve --workers N` for its workers: it serves METRICS_BIND itself, for all of them.
BIND_SERVED_BY_PARENT = "AGENT_SERVICE_METRICS_BIND_IN_PARENT"

HTTP_REQUESTS = Counter(
    "agent_service_http_requests_total", "HTTP requests", ["method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "agent_service_http_request_duration_seconds", "HTTP request latency", ["method", "route"]
)

PROCESS_STARTS = Counter(
    "agent_service_process_starts_total", "Processes that started the app (a worker's restart too)"
)


def metrics_registry() -> CollectorRegistry:
    """What a scrape shows: this process's metrics, or every worker's summed in multiprocess mode
    (a worker's own registry would show a different part of the counts at each scrape)."""
    if not os.environ.get(MULTIPROCESS_DIR):
        return REGISTRY
    registry = CollectorRegistry()
    MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return registry


@contextmanager
def shared_metrics_folder() -> Iterator[str]:
    """For `serve --workers N`, before the workers start (they inherit the environment): a fresh
    folder for their metrics, removed afterwards; or the operator's own PROMETHEUS_MULTIPROC_DIR."""
    if own := os.environ.get(MULTIPROCESS_DIR):
        yield own
        return
    folder = tempfile.mkdtemp(prefix="agent-service-metrics-")
    os.environ[MULTIPROCESS_DIR] = folder
    try:
        yield folder
    finally:
        del os.environ[MULTIPROCESS_DIR]
        shutil.rmtree(folder, ignore_errors=True)


class MetricsMiddleware:
    """Counts requests by route template (not raw path, so ids don't explode the label set)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            HTTP_REQUESTS.labels(scope["method"], route, str(status)).inc()
            HTTP_LATENCY.labels(scope["method"], route).observe(time.perf_counter() - started)
