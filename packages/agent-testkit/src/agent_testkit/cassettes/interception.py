"""Where cassettes meet the network: the same seam as the fake LLM's, `HTTPTransport.handle_request` and
`AsyncHTTPTransport.handle_async_request` of httpx and httpx2, patched while a cassette is active.

So every client that would reach the network is covered (the openai SDK's default httpx2 client, plain
httpx, sync and async, built before or after the cassette), and clients on their own transports (an
app's `httpx.ASGITransport` test client, respx, MockTransport) are not. The fake LLM keeps its own URLs:
a request the fake answers (or refuses, for a real LLM host) is passed on to it, untouched.

The newest active cassette answers. Replayed bodies are handed over chunk by chunk; recorded bodies
are passed to the client chunk by chunk as they arrive, and kept.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from fnmatch import fnmatch
from types import ModuleType
from typing import Any

import httpx
import httpx2

from agent_testkit.cassettes.cassette import Cassette, NoMatch, Record, Replay
from agent_testkit.cassettes.model import (
    NOT_RECORDED_HEADERS,
    Body,
    Headers,
    RecordedRequest,
    RecordedResponse,
    header,
    is_stream_content_type,
)
from agent_testkit.cassettes.streams import recording_stream, replay_stream
from agent_testkit.fake_llm.interception import REGISTRY as FAKE_LLM_ROUTES


class _Registry:
    def __init__(self) -> None:
        self.active: list[Cassette] = []
        self.lock = threading.Lock()
        self.patched: dict[
            tuple[type, str], tuple[Any, Any]
        ] = {}  # (class, name) -> (original, ours)

    def cassette_for(self, url: Any) -> Cassette | None:
        if not self.active or FAKE_LLM_ROUTES.route(url) is not None:
            return None
        cassette = self.active[-1]
        if any(fnmatch(url.host, pattern) for pattern in cassette.options.ignore_hosts):
            return None
        return cassette


REGISTRY = _Registry()


def install(cassette: Cassette) -> None:
    with REGISTRY.lock:
        if not REGISTRY.active:
            _patch_all()
        REGISTRY.active.append(cassette)


def uninstall(cassette: Cassette) -> None:
    with REGISTRY.lock:
        if cassette in REGISTRY.active:
            REGISTRY.active.remove(cassette)
        if not REGISTRY.active:
            _unpatch_all()


def _patch_all() -> None:
    for module in (httpx, httpx2):
        sync_cls, async_cls = module.HTTPTransport, module.AsyncHTTPTransport
        for cls, name, make in (
            (sync_cls, "handle_request", _sync_handler),
            (async_cls, "handle_async_request", _async_handler),
        ):
            original = getattr(cls, name)
            ours = make(module, original)
            REGISTRY.patched[(cls, name)] = (original, ours)
            setattr(cls, name, ours)


def _unpatch_all() -> None:
    """Restore what we replaced, unless someone patched over us since (then ours stays, inert)."""
    for (cls, name), (original, ours) in REGISTRY.patched.items():
        if getattr(cls, name) is ours:
            setattr(cls, name, original)
    REGISTRY.patched.clear()


def _sync_handler(module: ModuleType, original: Callable[..., Any]) -> Callable[..., Any]:
    def handle_request(self: Any, request: Any) -> Any:
        cassette = REGISTRY.cassette_for(request.url)
        if cassette is None:
            return original(self, request)
        decision = cassette.decide(_captured(request, request.read()))
        if not isinstance(decision, Record):
            return _answer(module, decision, is_async=False)
        _ask_for_identity(request)
        return _recording(module, original(self, request), cassette, decision, is_async=False)

    return handle_request


def _async_handler(module: ModuleType, original: Callable[..., Any]) -> Callable[..., Any]:
    async def handle_async_request(self: Any, request: Any) -> Any:
        cassette = REGISTRY.cassette_for(request.url)
        if cassette is None:
            return await original(self, request)
        decision = cassette.decide(_captured(request, await request.aread()))
        if not isinstance(decision, Record):
            return _answer(module, decision, is_async=True)
        _ask_for_identity(request)
        response = await original(self, request)
        return _recording(module, response, cassette, decision, is_async=True)

    return handle_async_request


def _headers(items: list[tuple[str, str]]) -> Headers:
    headers: Headers = {}
    for name, value in items:
        if name.lower() not in NOT_RECORDED_HEADERS:
            headers.setdefault(name.lower(), []).append(value)
    return headers


def _captured(request: Any, content: bytes) -> RecordedRequest:
    headers = _headers(request.headers.multi_items())
    body = Body.from_bytes(content, header(headers, "content-type"))
    return RecordedRequest(request.method, str(request.url), headers, body)


def _ask_for_identity(request: Any) -> None:
    """While recording, ask for an uncompressed body: cassettes stay readable, chunks stay SSE events."""
    request.headers["accept-encoding"] = "identity"


def _answer(module: ModuleType, decision: Replay | NoMatch, *, is_async: bool) -> Any:
    if isinstance(decision, NoMatch):
        return _no_match_response(module, decision.message, is_async=is_async)
    recorded = decision.interaction.response
    chunks = recorded.body.to_chunks()
    delays = recorded.body.delays_ms if recorded.body.kind == "chunks" else None
    delays_s = [d * decision.timing / 1000 for d in delays] if delays and decision.timing else None
    extensions: dict[str, Any] = {"http_version": b"HTTP/1.1"}
    if recorded.reason:
        extensions["reason_phrase"] = recorded.reason.encode()
    return module.Response(
        recorded.status,
        headers=[(name, value) for name, values in recorded.headers.items() for value in values],
        stream=replay_stream(module, chunks, delays_s, is_async=is_async),
        extensions=extensions,
    )


def _no_match_response(module: ModuleType, message: str, *, is_async: bool) -> Any:
    """A 500 that SDKs do not retry (`x-should-retry: false`); the test fails with `message` as well."""
    error = {"message": message, "type": "cassette_no_match", "code": "cassette_no_match"}
    content = json.dumps({"error": {**error, "param": None}}).encode()
    return module.Response(
        500,
        headers=[("content-type", "application/json"), ("x-should-retry", "false")],
        stream=replay_stream(module, [content], None, is_async=is_async),
        extensions={"http_version": b"HTTP/1.1"},
    )


def _recording(
    module: ModuleType, response: Any, cassette: Cassette, record: Record, *, is_async: bool
) -> Any:
    headers = _headers(response.headers.multi_items())
    reason = response.extensions.get("reason_phrase", b"").decode("ascii", "replace") or None
    content_type = header(headers, "content-type")

    def done(chunks: list[bytes], delays_ms: list[float]) -> None:
        if is_stream_content_type(content_type):
            body = Body.streamed(chunks, delays_ms)
        else:
            body = Body.from_bytes(b"".join(chunks), content_type)
        cassette.finish_recording(
            record, RecordedResponse(response.status_code, headers, body, reason)
        )

    response.stream = recording_stream(module, response.stream, done, is_async=is_async)
    return response
