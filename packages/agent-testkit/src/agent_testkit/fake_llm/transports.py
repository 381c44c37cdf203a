"""Answer an httpx or httpx2 request from the fake's ASGI app, streaming, as a network transport would.

Errors come out as the client library's own exceptions (`ReadTimeout`, `RemoteProtocolError`), so apps and
SDKs handle a scripted fault exactly as they would a real one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from types import ModuleType
from typing import Any
from urllib.parse import unquote

from starlette.types import ASGIApp

from agent_testkit.fake_llm.app import FakeDisconnect
from agent_testkit.fake_llm.exchange import LOOP_THREAD, Event, Exchange

DEFAULT_PORTS = {"http": 80, "https": 443}


def _scope(request: Any, root_path: str) -> dict[str, Any]:
    url = request.url
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": request.method,
        "scheme": url.scheme,
        "path": unquote(url.path),
        "raw_path": url.raw_path.split(b"?", 1)[0],
        "query_string": url.query,
        "root_path": root_path,
        "headers": [(k.lower(), v) for k, v in request.headers.raw],
        "server": (url.host, url.port or DEFAULT_PORTS.get(url.scheme, 80)),
        "client": ("127.0.0.1", 0),
        "state": {},
    }


def _read_timeout(request: Any) -> float | None:
    timeout = request.extensions.get("timeout", {})
    value = timeout.get("read")
    return float(value) if value is not None else None


def _client_error(
    module: ModuleType, request: Any, event: Event | None, *, started: bool
) -> Exception:
    """What a client sees when the connection behaves like `event` (None: the read timed out)."""
    if event is None:
        return module.ReadTimeout("timed out", request=request)  # type: ignore[no-any-return]
    kind, payload = event
    if kind == "error" and not isinstance(payload, FakeDisconnect):
        return payload  # type: ignore[no-any-return]  # a bug in a respond() function or the fake
    if started:
        message = (
            "peer closed connection without sending complete message body (incomplete chunked read)"
        )
    else:
        message = "Server disconnected without sending a response."
    return module.RemoteProtocolError(message, request=request)  # type: ignore[no-any-return]


def _response(module: ModuleType, start: dict[str, Any], stream: Any) -> Any:
    return module.Response(
        start["status"],
        headers=start.get("headers", []),
        stream=stream,
        extensions={"http_version": b"HTTP/1.1"},
    )


# -- async clients: the app runs on the caller's event loop ---------------------------------------------------


async def respond_async(
    module: ModuleType, request: Any, app: ASGIApp, root_path: str, body: bytes
) -> Any:
    """The module's Response for `request`, its body streamed from the app as the app sends it."""
    exchange = Exchange(app, _scope(request, root_path), body)
    timeout = _read_timeout(request)
    event = await _next_async(exchange, timeout)
    if event is None or event[0] != "start":
        exchange.close()
        raise _client_error(module, request, event, started=False)
    return _response(
        module, event[1], _async_stream_class(module)(exchange, timeout, module, request)
    )


async def _next_async(exchange: Exchange, read_timeout: float | None) -> Event | None:
    try:
        return await exchange.next_event(read_timeout)
    except TimeoutError:
        return None


class _AsyncBody:
    """The response body, read from the app as it sends it."""

    def __init__(
        self, exchange: Exchange, timeout: float | None, module: ModuleType, request: Any
    ) -> None:
        self.exchange, self.timeout, self.module, self.request = exchange, timeout, module, request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while True:
            event = await _next_async(self.exchange, self.timeout)
            if event is not None and event[0] == "body":
                yield event[1]
                continue
            self.exchange.close()
            if event is not None and event[0] == "end":
                return
            raise _client_error(self.module, self.request, event, started=True)

    async def aclose(self) -> None:
        self.exchange.close()


# -- sync clients: the app runs on the kit's own loop thread --------------------------------------------------


def respond_sync(
    module: ModuleType, request: Any, app: ASGIApp, root_path: str, body: bytes
) -> Any:
    """Same as `respond_async`, with the app on the kit's loop thread."""
    scope = _scope(request, root_path)

    async def open_exchange() -> Exchange:
        return Exchange(app, scope, body)

    exchange = LOOP_THREAD.run(open_exchange())
    timeout = _read_timeout(request)
    event = LOOP_THREAD.run(_next_async(exchange, timeout))
    if event is None or event[0] != "start":
        LOOP_THREAD.call_soon(exchange.close)
        raise _client_error(module, request, event, started=False)
    return _response(
        module, event[1], _sync_stream_class(module)(exchange, timeout, module, request)
    )


class _SyncBody:
    def __init__(
        self, exchange: Exchange, timeout: float | None, module: ModuleType, request: Any
    ) -> None:
        self.exchange, self.timeout, self.module, self.request = exchange, timeout, module, request

    def __iter__(self) -> Iterator[bytes]:
        while True:
            event = LOOP_THREAD.run(_next_async(self.exchange, self.timeout))
            if event is not None and event[0] == "body":
                yield event[1]
                continue
            LOOP_THREAD.call_soon(self.exchange.close)
            if event is not None and event[0] == "end":
                return
            raise _client_error(self.module, self.request, event, started=True)

    def close(self) -> None:
        LOOP_THREAD.call_soon(self.exchange.close)


_STREAM_CLASSES: dict[tuple[str, str], type] = {}


def _async_stream_class(module: ModuleType) -> type:
    """`_AsyncBody` as the module's own AsyncByteStream, which its client checks with isinstance."""
    return _stream_class(module, "AsyncByteStream", _AsyncBody)


def _sync_stream_class(module: ModuleType) -> type:
    return _stream_class(module, "SyncByteStream", _SyncBody)


def _stream_class(module: ModuleType, base_name: str, body: type) -> type:
    key = (module.__name__, base_name)
    if key not in _STREAM_CLASSES:
        _STREAM_CLASSES[key] = type(body.__name__, (body, getattr(module, base_name)), {})
    return _STREAM_CLASSES[key]
