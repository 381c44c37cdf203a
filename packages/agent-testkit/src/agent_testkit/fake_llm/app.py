"""The fake as one ASGI app: the same object answers in-process and behind uvicorn.

Routes are the ones apps use: OpenAI chat completions and responses, Anthropic messages (each JSON and
SSE, spelled by `dialects`), embeddings, models. Faults are answered here too, so both transports show a
client the same failure. Telemetry uploads (openai-agents traces) are accepted and recorded quietly; any
other route is recorded and fails the test.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import TYPE_CHECKING, Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route, Router
from starlette.types import Receive, Scope, Send

from agent_testkit.fake_llm import normalize, payloads
from agent_testkit.fake_llm import routes as extra_routes
from agent_testkit.fake_llm.dialects import (
    CHAT,
    JSON,
    MESSAGES,
    RESPONSES,
    Dialect,
    ResponsesDialect,
)
from agent_testkit.fake_llm.gemini_payloads import GEMINI
from agent_testkit.fake_llm.recording import RecordedCall
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

NO_RETRY = {"x-should-retry": "false"}
TELEMETRY_PATHS = ("/traces/ingest",)  # openai-agents' trace export
SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}
MAX_HANG_SECONDS = 300.0

logger = logging.getLogger("agent_testkit.fake_llm")


class FakeDisconnect(Exception):
    """Raised by the app to drop the connection; each transport turns it into a dropped socket."""


def create_app(fake: FakeLLM) -> Router:
    """The ASGI app answering from `fake`'s script and recording into `fake.calls`.

    A bare Router, without Starlette's error middleware, so a scripted disconnect reaches the transport
    as an exception instead of becoming a 500 response. Each route exists with and without the `/v1`
    prefix, so a base URL with or without it works.
    """

    async def chat_completions(request: Request) -> Response:
        return await _model_call(fake, request, CHAT)

    async def create_response(request: Request) -> Response:
        return await _model_call(fake, request, RESPONSES)

    async def create_message(request: Request) -> Response:
        return await _model_call(fake, request, MESSAGES)

    async def count_tokens(request: Request) -> Response:
        parsed = await _parse_json(request, MESSAGES)
        if isinstance(parsed, Response):
            return parsed
        messages = normalize.messages("messages", parsed)
        tokens = payloads.prompt_tokens(messages, normalize.tools("messages", parsed))
        return Response(json.dumps({"input_tokens": tokens}).encode(), media_type=JSON)

    async def get_response(request: Request) -> Response:
        stored = fake.stored_response(request.path_params["response_id"])
        if stored is None:
            message = f"No response found with id '{request.path_params['response_id']}'."
            return RESPONSES.error(404, message, kind="not_found")
        return Response(stored.body, media_type=JSON)

    async def create_embeddings(request: Request) -> Response:
        parsed = await _parse_json(request, CHAT)
        if isinstance(parsed, Response):
            return parsed
        fake.record_embedding(parsed)
        return Response(payloads.embeddings(parsed, fake.embedding_dimensions), media_type=JSON)

    async def list_models(request: Request) -> Response:
        if "anthropic-version" in request.headers:  # every anthropic client sends it
            return Response(payloads.anthropic_models(fake.model_names), media_type=JSON)
        return Response(payloads.models(fake.model_names), media_type=JSON)

    async def gemini(request: Request) -> Response:
        method = request.path_params["target"].rpartition(":")[2]
        if method in ("generateContent", "streamGenerateContent"):
            return await _model_call(fake, request, GEMINI)
        if method == "countTokens":
            parsed = await _parse_json(request, GEMINI)
            if isinstance(parsed, Response):
                return parsed
            messages = normalize.messages("gemini", parsed)
            tokens = payloads.prompt_tokens(messages, normalize.tools("gemini", parsed))
            return Response(json.dumps({"totalTokens": tokens}).encode(), media_type=JSON)
        return await _unknown(fake, request, GEMINI)

    async def telemetry(request: Request) -> Response:
        fake.record_telemetry(request.url.path, await request.body())
        return Response(b"{}", media_type=JSON)

    async def unknown_route(scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        path = request.url.path
        scripted = fake.scripted_route(request.method, path)
        if scripted is not None:
            route, params = scripted
            call = await extra_routes.read_call(request, params)
            fake.record_route_call(call)
            await route.answer(fake, call)(scope, receive, send)
            return
        dialect = MESSAGES if "/messages" in path else GEMINI if "/v1beta/" in path else CHAT
        response = await _unknown(fake, request, dialect)
        await response(scope, receive, send)

    routes = []
    for prefix in ("/v1", ""):
        routes += [
            Route(f"{prefix}/chat/completions", chat_completions, methods=["POST"]),
            Route(f"{prefix}/responses", create_response, methods=["POST"]),
            Route(f"{prefix}/responses/{{response_id}}", get_response, methods=["GET"]),
            Route(f"{prefix}/messages", create_message, methods=["POST"]),
            Route(f"{prefix}/messages/count_tokens", count_tokens, methods=["POST"]),
            Route(f"{prefix}/embeddings", create_embeddings, methods=["POST"]),
            Route(f"{prefix}/models", list_models, methods=["GET"]),
        ]
        routes += [Route(prefix + path, telemetry, methods=["POST"]) for path in TELEMETRY_PATHS]
    for version in ("/v1beta", "/v1"):  # Gemini: POST /v1beta/models/{model}:generateContent
        routes.append(Route(f"{version}/models/{{target}}", gemini, methods=["POST"]))
    return Router(routes=routes, default=unknown_route, redirect_slashes=False)


async def _unknown(fake: FakeLLM, request: Request, dialect: Dialect) -> Response:
    """Recorded, and a 404 that no SDK retries: the test fails at its end, naming the route."""
    fake.record_unknown_route(request.method, request.url.path, await request.body())
    message = (
        f"agent_testkit fake LLM does not implement {request.method} {request.url.path}: "
        "it answers chat completions, responses, messages, Gemini generateContent, embeddings "
        "and models."
    )
    return dialect.error(404, message, kind="not_found", headers=NO_RETRY)


async def _parse_json(request: Request, dialect: Dialect) -> dict[str, Any] | Response:
    try:
        body = await request.body()
    except ClientDisconnect:
        # the app gave up on the call before it sent all of it (a cancelled turn, a timeout): a
        # real model never sees such a call, nor does the fake count it; nobody reads the answer
        logger.debug("a call to %s was abandoned before its body was sent", request.url.path)
        return Response(status_code=499)
    try:
        parsed = json.loads(body)
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        message = "We could not parse the JSON body of your request."
        return dialect.error(400, message, kind="invalid")
    return parsed


async def _model_call(fake: FakeLLM, request: Request, dialect: Dialect) -> Response:
    """Record one model call in `dialect`'s format and answer it with the next script item."""
    parsed = await _parse_json(request, dialect)
    if isinstance(parsed, Response):
        return parsed
    history: list[dict[str, Any]] = []
    previous = parsed.get("previous_response_id") if dialect is RESPONSES else None
    if previous:
        stored = fake.stored_response(str(previous))
        if stored is None:
            return RESPONSES.error(
                400,
                f"Previous response with id '{previous}' not found.",
                kind="invalid",
                param="previous_response_id",
                code="previous_response_not_found",
            )
        history = stored.conversation
    item, call = fake.take_turn(
        parsed,
        path=request.url.path,
        headers=dict(request.headers),
        api=dialect.api,
        history=history,
    )
    if item is None:
        return fake.unexpected_call_response(call, dialect)
    return await _answer(fake, request, dialect, call, item)


async def _answer(
    fake: FakeLLM, request: Request, dialect: Dialect, call: RecordedCall, item: ScriptItem
) -> Response:
    stream = call.stream
    if isinstance(item, Reply | ToolCalls):
        number = fake.next_number()
        if isinstance(dialect, ResponsesDialect) and call.request.get("store") is not False:
            fake.store_response(
                dialect.response_id(item, number),
                conversation=dialect.conversation(item, call, number),
                body=dialect.body(item, call, number),
            )
        if stream:
            return _sse(_paced(dialect.events(item, call, number), item.chunk_delay))
        return Response(dialect.body(item, call, number), media_type=JSON)
    if isinstance(item, RateLimited):
        headers = {
            "x-ratelimit-remaining-requests": "0",
            **_retry_after(item.retry_after, item.retry_after_ms),
        }
        return dialect.error(429, item.message, kind="rate_limit", headers=headers)
    if isinstance(item, ServerError):
        headers = _retry_after(item.retry_after, item.retry_after_ms)
        return dialect.error(item.status, item.message, kind="server", headers=headers)
    if isinstance(item, Hang):
        await _wait_for_disconnect(request)
        return Response(status_code=504)
    if isinstance(item, Disconnect):
        raise FakeDisconnect("disconnect() scripted")
    if isinstance(item, CutStream):
        return _cut(fake, dialect, call, item, stream=stream)
    if isinstance(item, MalformedSSE):
        return _malformed_sse(fake, dialect, call, item)
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


def _sse(frames: AsyncIterator[bytes]) -> Response:
    return StreamingResponse(frames, media_type="text/event-stream", headers=SSE_HEADERS)


async def _paced(frames: Iterator[bytes], delay: float) -> AsyncIterator[bytes]:
    """The frames, `delay` seconds apart (the first one at once), as a model paces its tokens."""
    for sent, frame in enumerate(frames):
        if delay and sent:
            await asyncio.sleep(delay)
        yield frame


async def _wait_for_disconnect(request: Request) -> None:
    """Hang like a stuck upstream, but end when the client goes away (so nothing is left running)."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(MAX_HANG_SECONDS):
            while (await request.receive())["type"] != "http.disconnect":
                pass


def _cut(
    fake: FakeLLM, dialect: Dialect, call: RecordedCall, item: CutStream, *, stream: bool
) -> Response:
    number = fake.next_number()
    if not stream:
        body = dialect.body(item.item, call, number)
        return _TruncatedResponse(body, keep=len(body) // 2)
    frames = itertools.islice(dialect.events(item.item, call, number), item.after)

    async def cut() -> AsyncIterator[bytes]:
        async for frame in _paced(frames, item.item.chunk_delay):
            yield frame
        raise FakeDisconnect(f"cut_stream(after={item.after}) scripted")

    return _sse(cut())


def _malformed_sse(
    fake: FakeLLM, dialect: Dialect, call: RecordedCall, item: MalformedSSE
) -> Response:
    first = dialect.opening(call, fake.next_number())

    async def frames() -> AsyncIterator[bytes]:
        yield first
        yield dialect.broken(item.line)
        if closing := dialect.closing():
            yield closing

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
