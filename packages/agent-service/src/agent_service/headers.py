"""Header limits: a request with too many or too large headers is 431, before any route runs.

Two layers, both answering 431 `request_headers_too_large` in the one envelope:

- `HeaderLimit`, an ASGI middleware: more than `MAX_HEADER_COUNT` headers, or more than
  `MAX_HEADER_BYTES` of names and values, whatever server runs the app;
- `LimitedH11Protocol`, the HTTP protocol `serve` runs uvicorn with: h11 stops buffering a request
  head at `MAX_HEAD_BYTES` (uvicorn's `h11_max_incomplete_event_size`), so a 1 MB header costs
  64 KiB of memory, not 1 MB (httptools, uvicorn's default parser, buffers a header whole however
  long it is). Uvicorn answers that case with a plain-text 400; this class answers 431.
"""

from __future__ import annotations

import json
from typing import Any

import h11
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from agent_service.errors import error_response

MAX_HEADER_COUNT = 100
MAX_HEADER_BYTES = 32 * 1024
MAX_HEAD_BYTES = 64 * 1024  # request line and headers, as the server reads them
CODE = "request_headers_too_large"
LINGER_S = 2.0  # how long an over-long head is read on (and dropped) after its 431


class TrustedHosts:
    """400 `untrusted_host` for a Host header TRUSTED_HOSTS does not name, when it is set.

    Entries are host names ("agents.example.com"), "*.example.com" for its subdomains, or "*".
    The health probes (/healthz, /readyz) answer any host: a load balancer or an orchestrator
    probes by address. Links the service writes never come from the Host header anyway
    (PUBLIC_URL); this refuses requests meant for another site (DNS rebinding, cache poisoning).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] not in PROBES:
            trusted: list[str] = scope["app"].state.settings.trusted_hosts
            host = _host_of(scope)
            if trusted and not any(_matches(host, pattern) for pattern in trusted):
                body = {
                    "error": "untrusted_host",
                    "detail": f"This service does not answer for host {host[:100]!r}.",
                }
                await error_response(400, body)(scope, receive, send)
                return
        await self.app(scope, receive, send)


PROBES = frozenset({"/healthz", "/readyz"})


def _host_of(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"host":
            host = bytes(value).decode("latin-1").strip().lower()
            if host.startswith("["):  # [::1]:8000
                return host.partition("]")[0] + "]"
            return host.rpartition(":")[0] if ":" in host else host
    return ""


def _matches(host: str, pattern: str) -> bool:
    pattern = pattern.strip().lower()
    if pattern == "*":
        return True
    if pattern.startswith("*."):
        return host.endswith(pattern[1:])
    return host == pattern


def too_large_body(detail: str) -> dict[str, str]:
    return {"error": CODE, "detail": detail}


class HeaderLimit:
    """431 for more than `MAX_HEADER_COUNT` headers or `MAX_HEADER_BYTES` of them."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = scope["headers"]
            size = sum(len(name) + len(value) for name, value in headers)
            if len(headers) > MAX_HEADER_COUNT or size > MAX_HEADER_BYTES:
                detail = (
                    f"The request has {len(headers)} headers of {size} bytes; at most "
                    f"{MAX_HEADER_COUNT} headers of {MAX_HEADER_BYTES} bytes in all are read."
                )
                response = error_response(431, too_large_body(detail), {"Connection": "close"})
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


class _Connection(h11.Connection):
    """h11's connection, remembering that the head it refused was refused for its size."""

    head_too_large = False

    def next_event(self) -> Any:
        try:
            return super().next_event()
        except h11.RemoteProtocolError as exc:
            self.head_too_large = exc.error_status_hint == 431
            raise


class LimitedH11Protocol(H11Protocol):
    """Uvicorn's h11 protocol, answering an over-long request head with the 431 envelope.

    After the answer it closes its side and discards what the client still sends for up to
    `LINGER_S` (a lingering close, as nginx does): closing with unread data would send a reset,
    and the client would lose the answer.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.conn = _Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD_BYTES)
        self.lingering = False

    def data_received(self, data: bytes) -> None:
        if not self.lingering:
            super().data_received(data)

    def send_400_response(self, msg: str) -> None:
        if not isinstance(self.conn, _Connection) or not self.conn.head_too_large:
            super().send_400_response(msg)
            return
        body = json.dumps(
            too_large_body(f"The request line and headers are over {MAX_HEAD_BYTES} bytes.")
        ).encode()
        head = (
            b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
            b"content-type: application/json\r\nconnection: close\r\n"
            b"content-length: %d\r\n\r\n" % len(body)
        )
        self.transport.write(head + body)
        self.lingering = True
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(LINGER_S, self.transport.close)


def uvicorn_options() -> dict[str, Any]:
    """What `serve` (and tests serving the app) give `uvicorn.Config` for these limits."""
    return {"http": LimitedH11Protocol, "h11_max_incomplete_event_size": MAX_HEAD_BYTES}
