"""Request ids and logs: readable text lines in dev, JSON objects in production; each carries its
request id. And who may read /metrics, on which port."""

from __future__ import annotations

import hmac
import json
import logging
import os
import re
import time
import uuid
from contextvars import ContextVar
from typing import Any

from prometheus_client import start_wsgi_server
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agent_service.errors import NotFound, Unauthenticated
from agent_service.headers import PROBES
from agent_service.ops.metrics import BIND_SERVED_BY_PARENT, metrics_registry
from agent_service.settings import Settings

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
_STANDARD_ATTRS = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}

access_logger = logging.getLogger("agent_service.access")


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with the request id and any `extra=` fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None) or request_id_var.get()
        if request_id:
            entry["request_id"] = request_id
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS and key not in entry:
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    """One readable line for a terminal: time, level, logger, message, then `key=value` extras.

    The same fields as `JsonFormatter`, so switching `LOG_FORMAT` loses nothing.
    """

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = {
            key: value
            for key, value in record.__dict__.items()
            if key not in _STANDARD_ATTRS and key not in _SHOWN_IN_TEXT
        }
        request_id = getattr(record, "request_id", None) or request_id_var.get()
        if request_id:
            extras["request_id"] = request_id
        if not extras:
            return line
        head, newline, rest = line.partition("\n")  # extras stay on the first line
        fields = " ".join(f"{key}={value}" for key, value in extras.items())
        return f"{head}  [{fields}]{newline}{rest}"


# An access line's message already says method, path and status; uvicorn's colour hint is noise.
_SHOWN_IN_TEXT = {"method", "path", "status", "color_message"}


def configure_logging(level: str = "INFO", *, log_format: str = "json") -> None:
    """Every logger (ours, uvicorn's, alembic's) through one handler in one format."""
    handler = logging.StreamHandler()
    handler.setFormatter(TextFormatter() if log_format == "text" else JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # One INFO line per outgoing request (each LLM call) says nothing our own logs don't.
    for chatty in ("httpx", "httpcore"):
        logging.getLogger(chatty).setLevel(max(logging.WARNING, root.level))
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "alembic"):
        logging.getLogger(name).handlers[:] = []  # no second handler with its own format
        logging.getLogger(name).propagate = True


class RequestIdMiddleware:
    """Takes a sane incoming `X-Request-ID` or makes one; echoes it and logs the request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            access_logger.log(
                logging.DEBUG if _routine(scope["path"], status) else logging.INFO,
                "%s %s %s",
                scope["method"],
                scope["path"],
                status,
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                },
            )
            request_id_var.reset(token)


def _routine(path: str, status: int) -> bool:
    """A page's script, style or image, or a probe, that went fine: logged at DEBUG, so the
    terminal of `make run` shows requests (and the mail lines) rather than hundreds of assets."""
    quiet = path.startswith("/static/") or path in PROBES or path == "/favicon.ico"
    return quiet and status < 400


# /metrics: who may read it. The metrics say which routes are used, how often and how fast:
# nothing for the open internet, so production serves them only behind METRICS_TOKEN or on the
# separate METRICS_BIND listener (where a scraper on a private network reaches them).


class MetricsNotServed(NotFound):
    def __init__(self) -> None:
        super().__init__("No such route or resource.")


class MetricsTokenRequired(Unauthenticated):
    def __init__(self) -> None:
        super().__init__("/metrics needs the METRICS_TOKEN as a bearer token.")


def check_metrics_access(settings: Settings, authorization: str | None) -> None:
    """Raise unless this request may read /metrics on the main port: 404 when they are served on
    METRICS_BIND (or nowhere on this port, in production without a token), 401 without the
    token when METRICS_TOKEN is set; open in dev and test when neither is set."""
    if settings.metrics_bind:
        raise MetricsNotServed()
    if settings.metrics_token is not None:
        scheme, _, sent = (authorization or "").partition(" ")
        expected = settings.metrics_token.get_secret_value().encode()
        if scheme.lower() != "bearer" or not hmac.compare_digest(sent.strip().encode(), expected):
            raise MetricsTokenRequired()
        return
    if settings.environment == "production":
        raise MetricsNotServed()


class MetricsListener:
    """Prometheus's own HTTP server on METRICS_BIND ("host:port"), in a thread of this process."""

    def __init__(self, bind: str) -> None:
        host, _, port = bind.rpartition(":")
        address = host.strip("[]") or "0.0.0.0"  # noqa: S104 - the operator's METRICS_BIND
        self.server, self.thread = start_wsgi_server(
            int(port), addr=address, registry=metrics_registry()
        )

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def start_metrics_listener(settings: Settings) -> MetricsListener | None:
    """The listener on METRICS_BIND, or None: unset, or a worker of `serve --workers N`, which
    listens there itself for all of them (one port cannot be every worker's)."""
    if not settings.metrics_bind or os.environ.get(BIND_SERVED_BY_PARENT):
        return None
    try:
        return MetricsListener(settings.metrics_bind)
    except OSError as exc:
        logging.getLogger("agent_service.metrics").warning(
            "metrics listener on %s not started: %s", settings.metrics_bind, exc
        )
        return None
