"""`Idempotency-Key` on the POSTs that create a run or a resource, as a pure ASGI middleware.

The first request with a (user, key) claims it with an insert and runs as usual. A key names a
run, not an HTTP answer: a chat turn binds its run to the key in the transaction that creates
it (`service.bind_run`). A later request with the same key and the same method, path and body
gets the first answer again with `Idempotent-Replayed: true`: the stored status, headers and
body of a JSON reply, or, for a key bound to a run, that run's outcome (a stream replays its
events from the start; a JSON turn whose first request got no answer to keep, a 5xx, a client
gone, a process killed, is answered from the run once it ends). With another body it gets 422
`idempotency_key_reused`. A request that arrives while the first is still working waits for it,
up to `IDEMPOTENCY_WAIT_S`, then gets 409 `idempotency_key_in_use` with Retry-After.

Not a dependency: it must see the whole response, and routers stay untouched. The user comes
from the bearer token; a request without a valid one passes through, so the route answers 401.
Answers that a retry should not get again (5xx, 408, 409, 425, 429) release the key, unless it
is bound to a run that goes on or committed something (a step, a pause, an answer): a retry then
gets that run, never a second one. A run that ended having committed nothing (interrupted,
failed before its first step) releases its key at once. A request cut while it works (its client
gone) releases its key on the way out; one whose process died leaves a claim that lapses within
`service.CLAIM_LEASE` (renewed while a long body arrives), so a retry is never refused for 24 h.
"""

from __future__ import annotations

import hashlib
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import cast

import anyio
from fastapi.encoders import jsonable_encoder
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agent_service.auth.tokens import decode_access_token
from agent_service.errors import AppError, RequestTooLarge, error_response
from agent_service.idempotency import service
from agent_service.idempotency.exceptions import (
    IdempotencyKeyInUse,
    IdempotencyKeyReused,
    InvalidIdempotencyKey,
)
from agent_service.idempotency.models import IdempotencyKey
from agent_service.settings import Settings

HEADER = b"idempotency-key"
REPLAYED = (b"idempotent-replayed", b"true")
# The POSTs that create a run or a resource.
COVERED_PATHS = re.compile(
    r"^/api/(agent/chat|agents/[^/]+/chat)(/stream)?$"
    r"|^/api/(tasks|projects|documents|conversations|users|runs|assistants)$"
    r"|^/api/assistants/[^/]+/schedules$"
)
_VALID_KEY = re.compile(rb"^[\x21-\x7e]{1,255}$")
NOT_STORED = frozenset({408, 409, 425, 429})
MAX_STORED_BODY = 1024 * 1024
# Headers not replayed: recomputed for the replay, or not ours to repeat.
_DROPPED = frozenset({b"content-length", b"date", b"server", b"set-cookie", b"x-request-id"})
_POLL_S = (0.02, 0.05, 0.1, 0.2)


class IdempotencyMiddleware:
    """Replays the first answer to a repeated `Idempotency-Key` (see the module docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = _idempotency_key(scope)
        if key is None:
            await self.app(scope, receive, send)
            return
        if not _VALID_KEY.match(key):
            await _answer_error(InvalidIdempotencyKey(), scope, receive, send)
            return
        state = scope["app"].state
        user_id = _user_of(scope, state.settings)
        if user_id is None:  # the route answers 401
            await self.app(scope, receive, send)
            return
        request = _Keyed(self, scope, receive, send, state.sessionmaker, user_id, key.decode())
        await request.handle()


@dataclass
class _Keyed:
    """One POST with a key: the first of its kind, or a repeat."""

    middleware: IdempotencyMiddleware
    scope: Scope
    receive: Receive
    send: Send
    sessionmaker: async_sessionmaker[AsyncSession]
    user_id: uuid.UUID
    key: str
    hasher: BodyHasher = field(init=False)

    def __post_init__(self) -> None:
        self.hasher = BodyHasher(self.scope)

    async def handle(self) -> None:
        row_id = await service.claim_key(self.sessionmaker, self.user_id, self.key)
        if row_id is not None:
            await _First(self, row_id).run(self.receive)
            return
        received = await self._read_own_body()
        if received is None:
            return
        await self._repeat(*received)

    async def _read_own_body(self) -> tuple[bool, bytes] | None:
        """(kept, body) of the repeat: hashed, and kept while small enough to run the request
        itself should the first one fail; None when it is answered already (too large) or the
        client went away."""
        kept: bytearray | None = bytearray()
        settings: Settings = self.scope["app"].state.settings
        limit = max(settings.max_json_bytes, settings.max_upload_bytes) + MAX_STORED_BODY
        size = 0
        while True:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:  # no route takes it: do not read on
                await _answer_error(RequestTooLarge(limit), self.scope, self.receive, self.send)
                return None
            self.hasher.update(chunk)
            if kept is not None:
                kept.extend(chunk)
                if len(kept) > MAX_STORED_BODY:
                    kept = None
            if not message.get("more_body", False):
                return (kept is not None, bytes(kept or b""))

    async def _repeat(self, body_kept: bool, body: bytes) -> None:
        deadline = time.monotonic() + self.scope["app"].state.settings.idempotency_wait_s
        for attempt in range(10_000):
            row = await service.find_key(self.sessionmaker, self.user_id, self.key)
            if row is None and body_kept:  # the first request failed and let the key go
                row_id = await service.claim_key(self.sessionmaker, self.user_id, self.key)
                if row_id is not None:
                    self.hasher = BodyHasher(self.scope)  # _First hashes the body as it is read
                    await _First(self, row_id).run(_replay_body(body))
                    return
            elif row is not None and await self._answered(row):
                return
            if time.monotonic() >= deadline:
                break
            await anyio.sleep(_POLL_S[min(attempt, len(_POLL_S) - 1)])
        await _answer_error(IdempotencyKeyInUse(self.key), self.scope, self.receive, self.send)

    async def _answered(self, row: IdempotencyKey) -> bool:
        """Answer from the key's row or its run, when there is something to answer with yet;
        a key whose run ended having committed nothing is let go (the next look claims it)."""
        if row.run_id is None:
            if row.completed:
                await self._answer_with(row)
            return row.completed
        outcome = await service.key_run_outcome(self.sessionmaker, row.run_id)
        if outcome is service.RunOutcome.VOID:
            await service.forget_key(self.sessionmaker, row.id)
            return False
        if row.request_hash is not None and row.request_hash != self.hasher.hexdigest():
            await self._refuse()
        elif self.scope["path"].endswith("/stream"):
            await _replay_run(row.run_id, self.scope, self.receive, self.send)
        elif row.completed:
            await self._answer_with(row)
        elif outcome is service.RunOutcome.KEPT:
            await _answer_from_run(row.run_id, self.key, self.scope, self.receive, self.send)
        else:
            return False  # a JSON turn still working: its first request may yet answer
        return True

    async def _refuse(self) -> None:
        await _answer_error(IdempotencyKeyReused(self.key), self.scope, self.receive, self.send)

    async def _answer_with(self, row: IdempotencyKey) -> None:
        if row.request_hash != self.hasher.hexdigest():
            await self._refuse()
            return
        headers = [*row.replay_headers(), REPLAYED]
        body = row.response_body or b""
        headers.append((b"content-length", str(len(body)).encode()))
        start = {"type": "http.response.start", "status": row.response_status}
        await self.send({**start, "headers": headers})
        await self.send({"type": "http.response.body", "body": body})


class _First:
    """The request that claimed the key: runs the app, then stores or releases its answer."""

    def __init__(self, keyed: _Keyed, row_id: uuid.UUID) -> None:
        self.keyed = keyed
        self.row_id = row_id
        self.body_read = False
        self.status = 0
        self.headers: list[list[str]] = []
        self.body = bytearray()
        self.too_big = False
        self.answered = False
        self.stored = False
        self.gone: OSError | None = None  # the client, gone as the answer started

    async def run(self, receive: Receive) -> None:
        sessionmaker = self.keyed.sessionmaker
        renew_at = await service.now(sessionmaker) + service.CLAIM_LEASE / 2

        async def hashing_receive() -> Message:
            nonlocal renew_at
            message = await receive()
            if message["type"] == "http.request":
                self.keyed.hasher.update(message.get("body", b""))
                self.body_read = not message.get("more_body", False)
                if await service.now(sessionmaker) >= renew_at:  # a long body: keep the claim
                    expires_at = await service.renew_claim(sessionmaker, self.row_id)
                    renew_at = expires_at - service.CLAIM_LEASE / 2
            return message

        claim = service.Claim(self.row_id, self._request_hash)
        token = service.current_claim.set(claim)
        try:
            await self.keyed.middleware.app(self.keyed.scope, hashing_receive, self._send)
        finally:
            service.current_claim.reset(token)
            # Shielded: a whole answer is kept, and a cut request's key let go, even while the
            # request is being cancelled (its client gone, its server stopping).
            with anyio.CancelScope(shield=True):
                await self._finish()

    def _request_hash(self) -> str | None:
        return self.keyed.hasher.hexdigest() if self.body_read else None

    async def _finish(self) -> None:
        if self.stored:
            return
        if self._storable():
            await self._store(bytes(self.body), run_id=None)
        else:
            await service.release_key(self.keyed.sessionmaker, self.row_id)

    async def _send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            raw = message.get("headers", [])
            self.headers = [
                [n.decode("latin-1"), v.decode("latin-1")] for n, v in raw if n not in _DROPPED
            ]
            run_id = _stream_run_id(raw)
            if run_id is not None and self.status == 200 and self.body_read:
                await self._store(None, run_id=run_id)  # a repeat may follow the run at once
        elif message["type"] == "http.response.body" and not self.stored:
            self.body.extend(message.get("body", b""))
            self.answered = not message.get("more_body", False)
            if len(self.body) > MAX_STORED_BODY:
                self.too_big = True
                self.body.clear()
        if self.gone is not None:  # the rest of an answer whose start could not go out
            if self.answered:
                raise self.gone  # captured whole (and kept): now the app learns it
            return
        try:
            await self.keyed.send(message)  # captured first: a client gone now does not undo it
        except OSError as exc:
            if message["type"] != "http.response.start" or self.stored:
                raise
            self.gone = exc  # take the rest of the answer (its body) before saying so

    def _storable(self) -> bool:
        ok = 200 <= self.status < 500 and self.status not in NOT_STORED
        return ok and self.body_read and self.answered and not self.too_big

    async def _store(self, body: bytes | None, *, run_id: uuid.UUID | None) -> None:
        await service.complete_key(
            self.keyed.sessionmaker,
            self.row_id,
            request_hash=self.keyed.hasher.hexdigest(),
            status=self.status,
            headers=self.headers,
            body=body,
            run_id=run_id,
        )
        self.stored = True


class BodyHasher:
    """SHA-256 of a request's method, path, query and body, fed chunk by chunk.

    A multipart body's boundary is left out: a client retrying an upload draws a new random
    boundary, and the same file is the same request.
    """

    def __init__(self, scope: Scope) -> None:
        target = f"{scope['method']} {scope['path']}?{scope['query_string']!r}\n"
        self._sha = hashlib.sha256(target.encode())
        self._boundary = _multipart_boundary(scope)
        self._carry = b""

    def update(self, chunk: bytes) -> None:
        if not self._boundary:
            self._sha.update(chunk)
            return
        data = (self._carry + chunk).replace(self._boundary, b"")
        keep = len(self._boundary) - 1  # a boundary may be cut between two chunks
        self._carry = data[-keep:] if keep else b""
        self._sha.update(data[: len(data) - len(self._carry)])

    def hexdigest(self) -> str:
        final = self._sha.copy()
        final.update(self._carry)
        return final.hexdigest()


def _multipart_boundary(scope: Scope) -> bytes:
    for name, value in scope["headers"]:
        if name == b"content-type" and value.lower().startswith(b"multipart/"):
            _, _, boundary = cast(bytes, value).partition(b"boundary=")
            return boundary.split(b";")[0].strip(b'" ')
    return b""


def _idempotency_key(scope: Scope) -> bytes | None:
    if scope["type"] != "http" or scope["method"] != "POST":
        return None
    if not COVERED_PATHS.match(scope["path"]):
        return None
    for name, value in scope["headers"]:
        if name == HEADER:
            return cast(bytes, value).strip()
    return None


def _user_of(scope: Scope, settings: Settings) -> uuid.UUID | None:
    """The user a valid bearer token names (revocation is the route's business), or None."""
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() != "bearer":
                return None
            claims = decode_access_token(
                token.strip(), secret=settings.jwt_secret.get_secret_value()
            )
            try:
                return uuid.UUID(str(claims["sub"])) if claims else None
            except ValueError:
                return None
    return None


def _stream_run_id(headers: list[tuple[bytes, bytes]]) -> uuid.UUID | None:
    """The run of an SSE reply (its `X-Run-Id`), or None for anything else."""
    found = dict(headers)
    if not found.get(b"content-type", b"").startswith(b"text/event-stream"):
        return None
    try:
        return uuid.UUID(found.get(b"x-run-id", b"").decode("latin-1"))
    except ValueError:
        return None


def _replay_body(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            await anyio.sleep_forever()  # a disconnect never comes: the body was read already
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


async def _replay_run(run_id: uuid.UUID, scope: Scope, receive: Receive, send: Send) -> None:
    """The first request's stream again: its run's events from the start, then live."""
    from agent_service.runs.stream import run_event_stream  # runs import agents: no cycle at start

    async def marked(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), REPLAYED]}
        await send(message)

    executor = scope["app"].state.runs
    await run_event_stream(executor, run_id)(scope, receive, marked)


async def _answer_from_run(
    run_id: uuid.UUID, key: str, scope: Scope, receive: Receive, send: Send
) -> None:
    """A JSON turn's reply rebuilt from its run (the first request's answer was not kept)."""
    from agent_service.agents.router import wait_reply  # the one way a turn's reply is made

    executor = scope["app"].state.runs
    run = await service.key_run(executor.sessionmaker, run_id)
    response: Response
    try:
        if run is None:  # gone with its conversation since it was looked at
            raise IdempotencyKeyInUse(key)
        reply = await wait_reply(executor, run, cancel_on_close=False)
    except AppError as exc:
        response = error_response(exc.status_code, exc.body(), exc.headers)
    else:
        response = JSONResponse(jsonable_encoder(reply), headers={"X-Run-Id": str(run_id)})
    response.raw_headers.append(REPLAYED)
    await response(scope, receive, send)


async def _answer_error(error: AppError, scope: Scope, receive: Receive, send: Send) -> None:
    response = error_response(error.status_code, error.body(), error.headers)
    await response(scope, receive, send)
