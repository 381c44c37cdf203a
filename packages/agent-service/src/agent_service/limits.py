"""The size limit on every request body but uploads, enforced while the body is received.

A pure ASGI middleware: it counts the bytes as they arrive and answers 413 `request_too_large`
(the one envelope) as soon as they pass `MAX_JSON_BYTES`, so a 500 MB body costs one network chunk
of memory, not 500 MB. A declared `Content-Length` over the limit is refused before a byte is read.
The limit is read per request from the app's settings (`scope["app"].state.settings`), as the
idempotency middleware reads its own: the settings object is the one source, whoever built the app.

Not Starlette's `RequestBodyLimitMiddleware`: it answers in plain text, and FastAPI turns the
error it raises inside the body parser into a 400. The routes that read their own stream with
their own, larger limit (uploads, the GitHub webhook) are left to it.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agent_service.bounds import UnsafeJson, json_problem
from agent_service.errors import RequestTooLarge, error_response

# (method, path) of the routes that stream their body with their own limit.
OWN_LIMIT_ROUTES = frozenset({("POST", "/api/documents"), ("POST", "/webhooks/github")})


class RequestBodyLimit:
    """413 `request_too_large` once a request body passes `MAX_JSON_BYTES`, with or without a
    length."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (scope["method"], scope["path"]) in OWN_LIMIT_ROUTES:
            await self.app(scope, receive, send)
            return
        max_bytes: int = scope["app"].state.settings.max_json_bytes
        declared = _content_length(scope)
        if declared is not None and declared > max_bytes:
            await _refuse(max_bytes, scope, receive, send)
            return
        await _LimitedRequest(self.app, max_bytes, scope, receive, send).run()


async def _refuse(max_bytes: int, scope: Scope, receive: Receive, send: Send) -> None:
    error = RequestTooLarge(max_bytes)
    await error_response(error.status_code, error.body())(scope, receive, send)


class _LimitedRequest:
    """One request: counts what the app receives; once over, the app's answer becomes the 413.

    The app may see the error as a broken body (FastAPI answers 400 then) or let it propagate;
    either way the client gets the 413, unless the response had already started.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, scope: Scope, receive: Receive, send: Send):
        self.app, self.max_bytes = app, max_bytes
        self.scope, self._receive, self._send = scope, receive, send
        self.received = 0
        self.over = False
        self.started = False

    async def run(self) -> None:
        try:
            await self.app(self.scope, self.receive, self.send)
        except RequestTooLarge:
            if self.started:
                raise
        if self.over and not self.started:
            self.started = True
            await _refuse(self.max_bytes, self.scope, self._receive, self._send)

    async def receive(self) -> Message:
        message = await self._receive()
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if self.received > self.max_bytes:
                self.over = True
                raise RequestTooLarge(self.max_bytes)
        return message

    async def send(self, message: Message) -> None:
        if self.over:  # the app's answer to the interrupted body is replaced by the 413
            if message["type"] == "http.response.start" and not self.started:
                self.started = True
                await _refuse(self.max_bytes, self.scope, self._receive, self._send)
            return
        if message["type"] == "http.response.start":
            self.started = True
        await self._send(message)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class JsonBodyCheck:
    """400 `invalid_json` for a JSON body nested past `MAX_JSON_DEPTH`, or holding `NaN`,
    `Infinity`, `1e400` or an integer past 64 bits (`bounds.json_problem`), before any route
    parses it: rules no schema states (a 422 would say the schema was broken).

    Inside `RequestBodyLimit`, so what it buffers is at most `MAX_JSON_BYTES` (the route would
    buffer it too); the body is then handed on unchanged. Without a content type FastAPI reads a
    body as JSON, so that is checked too; uploads and the webhook (own limits, own parser) are not.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not _json_body_expected(scope):
            await self.app(scope, receive, send)
            return
        body, ended = await _read_body(receive)
        problem = json_problem(body) if body else None
        if problem is not None:
            await _refuse_json(problem, scope, receive, send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return ended if ended is not None else await receive()

        await self.app(scope, replay, send)


def _json_body_expected(scope: Scope) -> bool:
    if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
        return False
    if (scope["method"], scope["path"]) in OWN_LIMIT_ROUTES:
        return False
    for name, value in scope["headers"]:
        if name == b"content-type":
            return b"json" in value.lower()
    return True


async def _read_body(receive: Receive) -> tuple[bytes, Message | None]:
    """The whole body, and the disconnect that ended it early (if one did)."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), message
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks), None


async def _refuse_json(problem: UnsafeJson, scope: Scope, receive: Receive, send: Send) -> None:
    body = {"error": "invalid_json", "detail": f"The JSON body is refused: {problem.message}."}
    await error_response(400, body)(scope, receive, send)
