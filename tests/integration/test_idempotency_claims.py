"""A claimed key whose request never finished: freed at once when the request is cut, within the
claim's lease when its process died, and kept while a long body is still arriving."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event, select

from agent_service.idempotency import service
from agent_service.idempotency.models import IdempotencyKey
from agent_service.settings import Settings
from agent_testkit import FakeLLM
from tests.conftest import use_fake_llm
from tests.factories import TestUser

BODY = json.dumps({"title": "Once"}).encode()


class FrozenClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock(app: FastAPI) -> FrozenClock:
    frozen = FrozenClock(datetime(2026, 12, 1, 12, 0, tzinfo=UTC))
    app.state.sessionmaker.configure(info={"clock": frozen})
    return frozen


@pytest.fixture
def settings(settings: Settings, fake_llm: FakeLLM) -> Settings:
    settings.idempotency_wait_s = 0.3  # a repeat that finds the key still claimed: 409 soon
    return use_fake_llm(settings, fake_llm.base_url)


def keyed(user: TestUser, key: str) -> dict[str, str]:
    return {**user.headers, "Idempotency-Key": key, "Content-Type": "application/json"}


def asgi_post(user: TestUser, key: str, request: httpx.Request | None = None) -> dict[str, Any]:
    """The scope of a POST with a key (POST /api/tasks, or `request`), for a request the test
    drives message by message."""
    headers = keyed(user, key)
    if request is not None:
        headers["Content-Type"] = request.headers["content-type"]
    path = "/api/tasks" if request is None else request.url.path
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }


def upload(text: bytes = b"Notes to keep.\n" * 200) -> httpx.Request:
    """POST /api/documents of one text file: an upload's body reaches the middleware as it
    arrives (a JSON body is read whole before: `limits.JsonBodyCheck`)."""
    request = httpx.Request(
        "POST",
        "http://testserver/api/documents",
        files={"file": ("notes.txt", text, "text/plain")},
    )
    request.read()
    return request


async def post_upload(
    client: httpx.AsyncClient, user: TestUser, key: str, request: httpx.Request
) -> httpx.Response:
    headers = {**keyed(user, key), "Content-Type": request.headers["content-type"]}
    return await client.post("/api/documents", content=request.content, headers=headers)


async def documents_of(client: httpx.AsyncClient, user: TestUser) -> list[dict[str, Any]]:
    r = await client.get("/api/documents", headers=user.headers)
    assert r.status_code == 200, r.text
    return list(r.json())


class Body:
    """A request body the test hands over chunk by chunk; `waiting` is set whenever the app asks
    for the next one (so everything the previous one caused is done)."""

    def __init__(self) -> None:
        self.chunks: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.waiting = asyncio.Event()

    async def receive(self) -> dict[str, Any]:
        self.waiting.set()
        message = await self.chunks.get()
        self.waiting.clear()
        return message

    async def give(self, chunk: bytes, *, more: bool) -> None:
        await self.chunks.put({"type": "http.request", "body": chunk, "more_body": more})
        await self.asked()

    async def asked(self) -> None:
        with anyio.fail_after(10):
            while not self.waiting.is_set() or not self.chunks.empty():
                await self.waiting.wait()
                await asyncio.sleep(0)  # let the app take what was just put


async def tasks_of(client: httpx.AsyncClient, user: TestUser) -> list[str]:
    r = await client.get("/api/tasks", headers=user.headers)
    assert r.status_code == 200, r.text
    return [t["title"] for t in r.json()]


async def post(client: httpx.AsyncClient, user: TestUser, key: str) -> httpx.Response:
    return await client.post("/api/tasks", content=BODY, headers=keyed(user, key))


async def test_a_claim_whose_process_died_frees_the_key_after_its_lease(
    app: FastAPI, client: httpx.AsyncClient, user: TestUser, clock: FrozenClock
) -> None:
    # the first request claimed the key, then its process was killed: nothing releases it
    assert await service.claim_key(app.state.sessionmaker, user.id, "died") is not None

    clock.now += service.CLAIM_LEASE - timedelta(seconds=1)
    waiting = await post(client, user, "died")
    assert (waiting.status_code, waiting.json()["error"]) == (409, "idempotency_key_in_use")

    clock.now += timedelta(seconds=1)  # the lease ends now: the key is free
    retried = await post(client, user, "died")
    assert retried.status_code == 201, retried.text
    assert "idempotent-replayed" not in retried.headers

    clock.now += timedelta(hours=23)  # the answer's key lives 24 h from the answer
    again = await post(client, user, "died")
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["id"] == retried.json()["id"]
    assert await tasks_of(client, user) == ["Once"]


async def test_a_long_body_keeps_its_claim_past_the_lease(
    app: FastAPI, client: httpx.AsyncClient, user: TestUser, clock: FrozenClock
) -> None:
    request, body = upload(), Body()
    content = request.content
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    renewals: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.startswith("UPDATE idempotency_key SET expires_at"):
            renewals.append(statement)

    event.listen(app.state.engine.sync_engine, "before_cursor_execute", count)
    first = asyncio.create_task(app(asgi_post(user, "slow", request), body.receive, send))
    await body.give(content[:100], more=True)  # the key is claimed before the body is read
    await body.give(content[100:150], more=True)  # within half the lease: nothing to renew
    assert renewals == []
    clock.now += service.CLAIM_LEASE / 2  # half the lease: the next chunk renews it
    await body.give(content[150:200], more=True)
    assert len(renewals) == 1
    await body.give(content[200:250], more=True)  # renewed for a whole lease from now
    assert len(renewals) == 1
    clock.now += service.CLAIM_LEASE / 2
    await body.give(content[250:300], more=True)  # and again half a lease later
    assert len(renewals) == 2
    clock.now += service.CLAIM_LEASE * 3 / 4  # past the first renewal's lease, within the second
    event.remove(app.state.engine.sync_engine, "before_cursor_execute", count)

    meanwhile = await post_upload(client, user, "slow", request)
    assert (meanwhile.status_code, meanwhile.json()["error"]) == (409, "idempotency_key_in_use")

    await body.chunks.put({"type": "http.request", "body": content[300:], "more_body": False})
    with anyio.fail_after(10):
        await first
    assert sent[0]["status"] == 202
    again = await post_upload(client, user, "slow", request)
    assert again.headers["idempotent-replayed"] == "true"
    assert len(await documents_of(client, user)) == 1


# Told each message the app sends (None once, at the start) and how to cut the request.
Cut = Callable[[dict[str, Any] | None, Callable[[], None]], Awaitable[None]]


async def cut(app: FastAPI, scope: dict[str, Any], receive: Any, when: Cut) -> None:
    """Run the request in a cancel scope that `when(cancel)` cancels, as a server cancels a
    request whose client went away or that it stops (every await after it is cancelled too)."""
    async with anyio.create_task_group() as group:
        sent: list[dict[str, Any]] = []

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)
            await when(message, group.cancel_scope.cancel)

        group.start_soon(app, scope, receive, send)
        await when(None, group.cancel_scope.cancel)


async def test_a_request_cut_while_it_reads_its_body_lets_its_key_go_at_once(
    app: FastAPI, client: httpx.AsyncClient, user: TestUser
) -> None:
    # A body that is not JSON reaches the middleware as it arrives (a JSON one is read whole
    # first, by `limits.JsonBodyCheck`); the route refuses it, once read, with a 422.
    headers = {**keyed(user, "cut"), "Content-Type": "text/plain"}
    scope = {
        **asgi_post(user, "cut"),
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }
    body = Body()

    async def when(message: dict[str, Any] | None, cancel: Callable[[], None]) -> None:
        if message is None:
            await body.give(b"title", more=True)  # the key is claimed, the body half read
            cancel()  # the client goes away

    await cut(app, scope, body.receive, when)

    retried = await client.post("/api/tasks", content=b"title: Once", headers=headers)
    assert retried.status_code == 422, retried.text
    assert "idempotent-replayed" not in retried.headers  # the key was free: this one claimed it
    again = await client.post("/api/tasks", content=b"title: Once", headers=headers)
    assert again.headers["idempotent-replayed"] == "true"


async def test_a_request_cut_right_after_its_answer_keeps_the_answer(
    app: FastAPI, client: httpx.AsyncClient, user: TestUser
) -> None:
    messages = [{"type": "http.request", "body": BODY, "more_body": False}]
    never = anyio.Event()

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop(0)
        await never.wait()
        raise AssertionError("unreachable")

    async def when(message: dict[str, Any] | None, cancel: Callable[[], None]) -> None:
        if message is not None and message["type"] == "http.response.body":
            cancel()  # the whole answer went out; the request is cut before it returns

    await cut(app, asgi_post(user, "answered"), receive, when)

    retried = await post(client, user, "answered")
    assert retried.status_code == 201, retried.text
    assert retried.headers["idempotent-replayed"] == "true"
    assert await tasks_of(client, user) == ["Once"]


async def test_a_request_cut_as_its_answer_starts_never_leaves_an_empty_answer(
    app: FastAPI, client: httpx.AsyncClient, user: TestUser
) -> None:
    messages = [{"type": "http.request", "body": BODY, "more_body": False}]

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def when(message: dict[str, Any] | None, cancel: Callable[[], None]) -> None:
        if message is not None and message["type"] == "http.response.start":
            cancel()
            await anyio.lowlevel.checkpoint()  # the server's send is cut with it

    await cut(app, asgi_post(user, "cut-at-start"), receive, when)

    # no whole answer was kept: the retry is answered in full (never an empty replay)
    retried = await post(client, user, "cut-at-start")
    assert retried.status_code == 201, retried.text
    assert retried.json()["title"] == "Once"


async def test_a_key_binds_only_the_run_of_its_own_request(
    app: FastAPI, client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM
) -> None:
    """The claim is the request's alone: a later request in the same task (an in-process
    client calls the app in its own task) does not bind its run to it."""
    fake_llm.script(fake_llm.reply("Unkeyed."))
    assert (await post(client, user, "tasks-key")).status_code == 201

    chat = await client.post("/api/agent/chat", json={"message": "Hi"}, headers=user.headers)

    assert chat.status_code == 200, chat.text
    async with app.state.sessionmaker() as session:
        row = await session.scalar(select(IdempotencyKey))
    assert row is not None and row.key == "tasks-key" and row.run_id is None


async def test_an_answer_whose_client_went_away_before_it_started_is_kept(
    app: FastAPI, client: httpx.AsyncClient, user: TestUser
) -> None:
    messages = [{"type": "http.request", "body": BODY, "more_body": False}]

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        raise OSError("the client closed the connection")  # as a server's send does then

    with pytest.raises(OSError, match="client closed"):
        await app(asgi_post(user, "gone-early"), receive, send)

    # the task was made: the retry gets it, not a second one
    retried = await post(client, user, "gone-early")
    assert retried.status_code == 201, retried.text
    assert retried.headers["idempotent-replayed"] == "true"
    assert await tasks_of(client, user) == ["Once"]
