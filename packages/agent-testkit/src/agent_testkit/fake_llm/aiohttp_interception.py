"""aiohttp clients (litellm's default async transport, any `aiohttp.ClientSession`) meet the kit at the same
seam as httpx ones.

`ClientSession._request` is patched while the kit intercepts. A request the kit claims (a URL the fake
answers, a real LLM host it refuses, one an active cassette replays) is turned into an `httpx.Request` and
sent down the patched httpx transport chain, so the same script, strictness, recording, refusals and
cassettes apply. The answer comes back as a real `aiohttp.ClientResponse` whose body is fed as the app
sends it (SSE streams chunk by chunk), and faults as aiohttp's own exceptions. Any other request goes to
aiohttp untouched. aiohttp is not a dependency of the kit: nothing is patched when it is not importable.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from typing import Any

import httpx

try:
    import aiohttp
    from aiohttp.helpers import TimerNoop
    from multidict import CIMultiDict, CIMultiDictProxy
    from yarl import URL
except ImportError:  # pragma: no cover - the kit runs without aiohttp
    aiohttp = None  # type: ignore[assignment]

Claims = Callable[[httpx.URL], bool]
_ORIGINAL: dict[str, Any] = {}
_PUMPS: set[asyncio.Task[None]] = set()
_TRANSPORT: list[httpx.AsyncHTTPTransport] = []


def patch(claims: Claims) -> None:
    """Route the requests `claims` accepts through the kit (no-op without aiohttp, or when patched)."""
    if aiohttp is None or _ORIGINAL:
        return
    original = aiohttp.ClientSession._request
    _ORIGINAL["_request"] = original

    async def _request(self: Any, method: str, str_or_url: Any, **kwargs: Any) -> Any:
        url = _full_url(self, str_or_url, kwargs.get("params"))
        if not claims(url):
            return await original(self, method, str_or_url, **kwargs)
        if self.closed:
            raise RuntimeError("Session is closed")
        return await _answer(self, method.upper(), url, kwargs)

    aiohttp.ClientSession._request = _request  # type: ignore[method-assign]


def unpatch() -> None:
    if aiohttp is not None and "_request" in _ORIGINAL:
        aiohttp.ClientSession._request = _ORIGINAL.pop("_request")  # type: ignore[method-assign]


def _full_url(session: Any, str_or_url: Any, params: Any) -> httpx.URL:
    url = session._build_url(str_or_url)
    if params:
        url = url.extend_query(params)
    return httpx.URL(str(url))


async def _answer(session: Any, method: str, url: httpx.URL, kwargs: dict[str, Any]) -> Any:
    headers = session._prepare_headers(kwargs.get("headers"))
    body, content_type = await _body(kwargs.get("data"), kwargs.get("json"))
    if content_type and "Content-Type" not in headers:
        headers["Content-Type"] = content_type
    read_timeout = _read_timeout(session, kwargs.get("timeout"))
    request = httpx.Request(
        method,
        url,
        headers=list(headers.items()),
        content=body,
        extensions={
            "timeout": {"connect": None, "read": read_timeout, "write": None, "pool": None}
        },
    )
    try:
        response = await _transport().handle_async_request(request)
    except httpx.HTTPError as exc:
        raise _aiohttp_error(exc, started=False) from exc
    answer = _client_response(session, request, response)
    raise_for_status = kwargs.get("raise_for_status")
    if raise_for_status is None:
        raise_for_status = session._raise_for_status
    if callable(raise_for_status):
        await raise_for_status(answer)
    elif raise_for_status:
        answer.raise_for_status()
    return answer


def _transport() -> httpx.AsyncHTTPTransport:
    """A plain httpx transport, whose (patched) `handle_async_request` is the kit's chain."""
    if not _TRANSPORT:
        _TRANSPORT.append(httpx.AsyncHTTPTransport())
    return _TRANSPORT[0]


async def _body(data: Any, json_body: Any) -> tuple[bytes, str | None]:
    payload: aiohttp.payload.Payload
    if json_body is not None:
        payload = aiohttp.payload.JsonPayload(json_body)
    elif data is None:
        return b"", None
    elif isinstance(data, dict | list | tuple):
        payload = aiohttp.FormData(data)()
    elif isinstance(data, aiohttp.FormData):
        payload = data()
    elif hasattr(data, "__aiter__") and not isinstance(data, aiohttp.payload.Payload):
        return b"".join([bytes(chunk) async for chunk in data]), None
    else:
        payload = aiohttp.payload.get_payload(data)
    return await payload.as_bytes(), payload.content_type


def _read_timeout(session: Any, timeout: Any) -> float | None:
    chosen = timeout if isinstance(timeout, aiohttp.ClientTimeout) else session.timeout
    value = chosen.sock_read or chosen.total
    return float(value) if value else None


def _aiohttp_error(exc: httpx.HTTPError, *, started: bool) -> Exception:
    """The exception aiohttp itself raises for what the fake did (or for the kit's refusal)."""
    from agent_testkit.fake_llm.interception import RealLLMHostRefused

    if isinstance(exc, RealLLMHostRefused):
        bases = (aiohttp.ClientConnectionError, RealLLMHostRefused)
        refusal: Exception = type("RealLLMHostRefused", bases, {})(str(exc))
        return refusal
    if isinstance(exc, httpx.TimeoutException):
        return aiohttp.SocketTimeoutError(f"Timeout on reading data from socket ({exc})")
    if started:
        return aiohttp.ClientPayloadError(f"Response payload is not completed: {exc}")
    return aiohttp.ServerDisconnectedError(str(exc))


class _Protocol:
    """What `StreamReader` asks of a connection: the body is fed from memory, never paused."""

    connected = True
    _reading_paused = False

    def pause_reading(self) -> None:
        pass

    def resume_reading(self, resume_parser: bool = True) -> None:
        pass


class _Connection:
    """Stands for the socket: releasing or closing the response stops feeding its body."""

    protocol = None

    def __init__(self, pump: asyncio.Task[None]) -> None:
        self.pump = pump

    def release(self) -> None:
        if not self.pump.done() and self.pump is not asyncio.current_task():
            self.pump.cancel()

    close = release


class _Sent:
    def __init__(self, size: int) -> None:
        self.output_size = size


def _client_response(session: Any, request: httpx.Request, response: httpx.Response) -> Any:
    loop = asyncio.get_running_loop()
    url = URL(str(request.url), encoded=True)
    sent = CIMultiDictProxy(CIMultiDict(request.headers.multi_items()))
    arguments = {
        "writer": None,
        "continue100": None,
        "timer": TimerNoop(),
        "request_info": aiohttp.RequestInfo(url, request.method, sent, url),
        "traces": [],
        "loop": loop,
        "session": session,
        "stream_writer": _Sent(len(request.content)),
    }
    accepted = inspect.signature(aiohttp.ClientResponse).parameters
    answer = aiohttp.ClientResponse(
        request.method, url, **{k: v for k, v in arguments.items() if k in accepted}
    )
    answer.version = aiohttp.HttpVersion11
    answer.status = response.status_code
    answer.reason = response.reason_phrase
    answer._headers = CIMultiDictProxy(CIMultiDict(response.headers.multi_items()))
    answer._raw_headers = tuple(response.headers.raw)
    answer.content = aiohttp.StreamReader(_Protocol(), 2**16, loop=loop)  # type: ignore[arg-type]
    answer._closed = False
    answer.content.on_eof(answer._response_eof)
    pump = loop.create_task(_pump(response, answer.content))
    _PUMPS.add(pump)
    pump.add_done_callback(_PUMPS.discard)
    answer._connection = _Connection(pump)  # type: ignore[assignment]
    return answer


async def _pump(response: httpx.Response, content: Any) -> None:
    """Feed the body to the aiohttp response as the fake (or cassette) sends it."""
    failure: BaseException | None = None
    try:
        async for chunk in response.aiter_raw():
            if content.exception() is not None:  # the client released the response
                break
            content.feed_data(chunk)
    except httpx.HTTPError as exc:
        failure = _aiohttp_error(exc, started=True)
    except Exception as exc:  # a bug in a respond() function: the client sees it, as with httpx
        failure = exc
    finally:
        await response.aclose()
    if content.exception() is not None:
        return
    if failure is not None:
        content.set_exception(failure)
    else:
        content.feed_eof()
