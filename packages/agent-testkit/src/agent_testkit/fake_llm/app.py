"""The fake as one ASGI app: the same object answers in-process and behind uvicorn.

Routes are the OpenAI-compatible ones an app uses: chat completions (JSON and SSE), embeddings, models.
Faults are answered here too, so both transports show a client the same failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route, Router
from starlette.types import Receive, Scope, Send

from agent_testkit.fake_llm import payloads
from agent_testkit.fake_llm.script import (
    CutStream,
    Disconnect,
    Hang,
    Malformed,
    MalformedSSE,
    RateLimited,
    Reply,
    RetryAfter,
    ScriptItem,
    ServerError,
    ToolCalls,
)

if TYPE_CHECKING:
    from agent_testkit.fake_llm.fake import FakeLLM

JSON = "application/json"
SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}
MAX_HANG_SECONDS = 300.0


class FakeDisconnect(Exception):
    """Raised by the app to drop the connection; each transport turns it into a dropped socket."""


def error_response(
    status: int,
    message: str,
    *,
    error_type: str,
    code: str | None,
    headers: dict[str, str] | None = None,
) -> Response:
    body = payloads.error_body(message, error_type=error_type, code=code)
    return Response(body, status_code=status, media_type=JSON, headers=headers)


def sse_frame(data: bytes) -> bytes:
    return b"data: " + data + b"\n\n"


def create_app(fake: FakeLLM) -> Router:
    """The ASGI app answering from `fake`'s script and recording into `fake.calls`.

    A bare Router, without Starlette's error middleware, so a scripted disconnect reaches the transport
    as an exception instead of becoming a 500 response.
    """

    async def chat_completions(request: Request) -> Response:
        parsed = await _parse_json(request)
        if isinstance(parsed, Response):
            return parsed
        item, call_index = fake.take_turn(
            parsed, path=request.url.path, headers=dict(request.headers)
        )
        if item is None:
            return fake.unexpected_call_response(call_index)
        return await _answer(fake, request, parsed, item)

    async def create_embeddings(request: Request) -> Response:
        parsed = await _parse_json(request)
        if isinstance(parsed, Response):
            return parsed
        fake.record_embedding(parsed)
        return Response(payloads.embeddings(parsed, fake.embedding_dimensions), media_type=JSON)

    async def list_models(request: Request) -> Response:
        return Response(payloads.models(fake.model_names), media_type=JSON)

    routes = [
        Route("/v1/chat/completions", chat_completions, methods=["POST"]),
        Route("/chat/completions", chat_completions, methods=["POST"]),
        Route("/v1/embeddings", create_embeddings, methods=["POST"]),
        Route("/embeddings", create_embeddings, methods=["POST"]),
        Route("/v1/models", list_models, methods=["GET"]),
        Route("/models", list_models, methods=["GET"]),
    ]
    return Router(routes=routes)


async def _parse_json(request: Request) -> dict[str, Any] | Response:
    try:
        parsed = json.loads(await request.body())
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        return error_response(
            400,
            "We could not parse the JSON body of your request.",
            error_type="invalid_request_error",
            code=None,
        )
    return parsed


async def _answer(
    fake: FakeLLM, request: Request, parsed: dict[str, Any], item: ScriptItem
) -> Response:
    stream = bool(parsed.get("stream"))
    if isinstance(item, Reply | ToolCalls):
        completion_id, ids = fake.new_ids(item)
        if stream:
            chunks = payloads.ChunkStream(parsed, completion_id).chunks(item, ids)
            return _sse(_frames(chunks, delay=item.chunk_delay))
        body = payloads.completion(
            item, request=parsed, completion_id=completion_id, tool_call_ids=ids
        )
        return Response(body, media_type=JSON)
    if isinstance(item, RateLimited):
        return _rate_limited(item)
    if isinstance(item, ServerError):
        headers = _retry_after(item.retry_after, item.retry_after_ms)
        return error_response(
            item.status, item.message, error_type="server_error", code=None, headers=headers
        )
    if isinstance(item, Hang):
        await _wait_for_disconnect(request)
        return Response(status_code=504)
    if isinstance(item, Disconnect):
        raise FakeDisconnect("disconnect() scripted")
    if isinstance(item, CutStream):
        return _cut(fake, parsed, item, stream=stream)
    if isinstance(item, MalformedSSE):
        return _malformed_sse(fake, parsed, item)
    if isinstance(item, Malformed):
        body = item.body.encode() if isinstance(item.body, str) else item.body
        return Response(body, status_code=item.status, media_type=item.content_type)
    raise TypeError(f"unknown script item {item!r}")  # pragma: no cover - Script.extend checks


def _retry_after(seconds: RetryAfter | None, milliseconds: float | None) -> dict[str, str]:
    """Only the wait headers a script item asked for, each in the form it asked for."""
    headers = {}
    if isinstance(seconds, datetime):
        headers["retry-after"] = format_datetime(seconds.astimezone(UTC), usegmt=True)
    elif isinstance(seconds, str):
        headers["retry-after"] = seconds
    elif seconds is not None:
        headers["retry-after"] = f"{seconds:g}"
    if milliseconds is not None:
        headers["retry-after-ms"] = f"{milliseconds:g}"
    return headers


def _rate_limited(item: RateLimited) -> Response:
    headers = {
        "x-ratelimit-remaining-requests": "0",
        **_retry_after(item.retry_after, item.retry_after_ms),
    }
    return error_response(
        429, item.message, error_type="requests", code="rate_limit_exceeded", headers=headers
    )


def _sse(frames: AsyncIterator[bytes]) -> Response:
    return StreamingResponse(frames, media_type="text/event-stream", headers=SSE_HEADERS)


async def _frames(
    chunks: Iterator[bytes], *, delay: float = 0.0, done: bool = True
) -> AsyncIterator[bytes]:
    """SSE frames, `delay` seconds apart (the first one at once), as a model paces its tokens."""
    for sent, chunk in enumerate(chunks):
        if delay and sent:
            await asyncio.sleep(delay)
        yield sse_frame(chunk)
    if done:
        if delay:
            await asyncio.sleep(delay)
        yield b"data: [DONE]\n\n"


async def _wait_for_disconnect(request: Request) -> None:
    """Hang like a stuck upstream, but end when the client goes away (so nothing is left running)."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(MAX_HANG_SECONDS):
            while (await request.receive())["type"] != "http.disconnect":
                pass


def _cut(fake: FakeLLM, parsed: dict[str, Any], item: CutStream, *, stream: bool) -> Response:
    completion_id, ids = fake.new_ids(item.item)
    if not stream:
        body = payloads.completion(
            item.item, request=parsed, completion_id=completion_id, tool_call_ids=ids
        )
        return _TruncatedResponse(body, keep=len(body) // 2)

    async def frames() -> AsyncIterator[bytes]:
        chunks = payloads.ChunkStream(parsed, completion_id).chunks(item.item, ids)
        for sent, chunk in enumerate(chunks):
            if sent >= item.after:
                break
            if sent and item.item.chunk_delay:
                await asyncio.sleep(item.item.chunk_delay)
            yield sse_frame(chunk)
        raise FakeDisconnect(f"cut_stream(after={item.after}) scripted")

    return _sse(frames())


def _malformed_sse(fake: FakeLLM, parsed: dict[str, Any], item: MalformedSSE) -> Response:
    completion_id, _ = fake.new_ids(Reply(""))
    first = payloads.ChunkStream(parsed, completion_id).opening()

    async def frames() -> AsyncIterator[bytes]:
        yield sse_frame(first)
        yield item.line.encode() + b"\n\n"
        yield b"data: [DONE]\n\n"

    return _sse(frames())


class _TruncatedResponse(Response):
    """Announces the whole body's length, sends the first `keep` bytes, then drops the connection."""

    def __init__(self, body: bytes, *, keep: int) -> None:
        super().__init__(body, media_type=JSON)
        self.keep = keep

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        await send(
            {"type": "http.response.body", "body": self.body[: self.keep], "more_body": True}
        )
        raise FakeDisconnect("cut_stream() scripted on a non-streamed request")
