"""A repeat of a key still claimed: how long a body it reads, how often it looks, that it answers
once, and that when the claim lapses it runs the request itself from the body it kept."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import anyio
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event

from agent_service.db import utcnow
from agent_service.idempotency import service
from agent_service.idempotency.middleware import MAX_STORED_BODY, _replay_body
from agent_service.settings import Settings
from agent_testkit import FakeLLM, parse_sse
from tests.conftest import use_fake_llm
from tests.factories import TestUser
from tests.integration.test_idempotency_claims import BODY, FrozenClock, asgi_post, keyed

pytestmark = pytest.mark.usefixtures("llm_waits")

LIMIT = 2048  # MAX_JSON_BYTES and MAX_UPLOAD_BYTES here


@pytest.fixture
def settings(settings: Settings, fake_llm: FakeLLM) -> Settings:
    settings.idempotency_wait_s = 0.3  # a repeat that finds the key still claimed: 409 soon
    settings.max_json_bytes = settings.max_upload_bytes = LIMIT
    return use_fake_llm(settings, fake_llm.base_url)


class Looks:
    """Counts the reads of the key table (each look of a waiting repeat is one); `seen` is set
    at the first."""

    def __init__(self) -> None:
        self.count = 0
        self.seen = asyncio.Event()

    def __call__(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().startswith("SELECT") and "FROM idempotency_key" in statement:
            self.count += 1
            self.seen.set()


@pytest.fixture
def looks(app: FastAPI) -> Iterator[Looks]:
    counter = Looks()
    engine = app.state.engine.sync_engine
    event.listen(engine, "before_cursor_execute", counter)
    yield counter
    event.remove(engine, "before_cursor_execute", counter)


async def repeat_upload(client: httpx.AsyncClient, user: TestUser, size: int) -> httpx.Response:
    headers = {**keyed(user, "held"), "Content-Type": "multipart/form-data; boundary=b"}
    return await client.post("/api/documents", content=b"x" * size, headers=headers)


async def test_a_repeat_reads_a_body_up_to_what_a_route_takes_and_a_mebibyte(
    app: FastAPI, client: httpx.AsyncClient, user: TestUser
) -> None:
    # the first request still works (its claim is held): a repeat reads its body, then waits
    assert await service.claim_key(app.state.sessionmaker, user.id, "held") is not None
    limit = LIMIT + MAX_STORED_BODY

    at_the_limit = await repeat_upload(client, user, limit)
    past_it = await repeat_upload(client, user, limit + 1)

    assert (at_the_limit.status_code, at_the_limit.json()["error"]) == (
        409,
        "idempotency_key_in_use",
    )
    assert (past_it.status_code, past_it.json()["error"]) == (413, "request_too_large")
    assert f"larger than {limit} bytes" in past_it.json()["detail"]


async def test_a_waiting_repeat_looks_a_few_times_not_in_a_busy_loop(
    app: FastAPI, client: httpx.AsyncClient, user: TestUser, looks: Looks
) -> None:
    assert await service.claim_key(app.state.sessionmaker, user.id, "held") is not None

    r = await client.post("/api/tasks", content=BODY, headers=keyed(user, "held"))

    assert r.status_code == 409
    # waits of 20, 50, 100, 200 ms within the 300 ms: at most five looks (a busy loop: hundreds)
    assert 2 <= looks.count <= 6, looks.count


@pytest.mark.parametrize("path", ["/api/tasks", "/api/agent/chat"])
async def test_a_repeat_answers_once(
    app: FastAPI, client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM, path: str
) -> None:
    body = BODY
    if path == "/api/agent/chat":
        fake_llm.script(fake_llm.reply("Once."))
        body = b'{"message": "Hi"}'
    first = await client.post(path, content=body, headers=keyed(user, "once"))
    assert first.status_code in (200, 201), first.text
    sent: list[dict[str, Any]] = []
    messages = [{"type": "http.request", "body": body}]  # `more_body` may be left out: False

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = asgi_post(user, "once")
    await app({**scope, "path": path, "raw_path": path.encode()}, receive, send)

    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    assert sent[0]["status"] == first.status_code
    assert (b"idempotent-replayed", b"true") in sent[0]["headers"]


async def test_a_kept_body_is_given_once_then_nothing_more() -> None:
    """What a repeat that runs the request itself hands the app: the body, then no message at
    all (a stream listening for a disconnect waits; it is not fed the body again)."""
    receive = _replay_body(b"the body")

    assert await receive() == {"type": "http.request", "body": b"the body", "more_body": False}
    with anyio.move_on_after(0.05) as waited:
        await receive()
    assert waited.cancelled_caught


async def test_a_stream_whose_claim_lapsed_while_it_waited_runs_from_the_body_it_kept(
    app: FastAPI,
    client: httpx.AsyncClient,
    user: TestUser,
    fake_llm: FakeLLM,
    looks: Looks,
) -> None:
    clock = FrozenClock(utcnow())
    app.state.sessionmaker.configure(info={"clock": clock})
    app.state.settings.idempotency_wait_s = 30
    fake_llm.script(fake_llm.reply("Ran it myself."))
    # the first request claimed the key and its process died
    assert await service.claim_key(app.state.sessionmaker, user.id, "lapsed") is not None
    looks.count = 0
    looks.seen.clear()

    repeat = asyncio.create_task(
        client.post("/api/agent/chat/stream", json={"message": "Hi"}, headers=keyed(user, "lapsed"))
    )
    async with asyncio.timeout(10):
        await looks.seen.wait()  # it found the claim held and waits
    clock.now += service.CLAIM_LEASE
    r = await asyncio.wait_for(repeat, 10)

    assert r.status_code == 200
    assert "idempotent-replayed" not in r.headers
    events = parse_sse(r.text)
    assert events[-1].event == "message.completed"
    assert "Ran it myself." in r.text


@pytest.mark.parametrize(("extra", "takes_over"), [(0, True), (1, False)])
async def test_a_repeat_keeps_a_body_up_to_a_mebibyte_to_run_it_itself(
    app: FastAPI,
    client: httpx.AsyncClient,
    user: TestUser,
    looks: Looks,
    extra: int,
    takes_over: bool,
) -> None:
    clock = FrozenClock(utcnow())
    app.state.sessionmaker.configure(info={"clock": clock})
    app.state.settings.idempotency_wait_s = 5
    assert await service.claim_key(app.state.sessionmaker, user.id, "held") is not None
    looks.seen.clear()

    repeat = asyncio.create_task(repeat_upload(client, user, MAX_STORED_BODY + extra))
    async with asyncio.timeout(10):
        await looks.seen.wait()  # it read its body, found the claim held and waits
    clock.now += service.CLAIM_LEASE  # the first request's claim lapses
    r = await asyncio.wait_for(repeat, 10)

    # a body it kept: it runs the request itself (the route refuses that body); one it could
    # not keep: it can only wait for an answer that never comes
    assert (r.json()["error"] != "idempotency_key_in_use") is takes_over, r.text


async def call(app: FastAPI, scope: dict[str, Any], body: bytes) -> list[dict[str, Any]]:
    """The messages the app sends for one request whose one body message leaves out `more_body`."""
    sent: list[dict[str, Any]] = []
    messages = [{"type": "http.request", "body": body}]

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


async def test_a_body_whose_last_message_leaves_out_more_body_is_whole(
    app: FastAPI, user: TestUser
) -> None:
    """ASGI lets `more_body` be left out (False): the first request's body is read to its end
    (its answer kept), and a repeat's too (it is answered from that)."""
    scope = asgi_post(user, "plain")
    headers = [h for h in scope["headers"] if h[0] != b"content-type"]
    scope["headers"] = [*headers, (b"content-type", b"text/plain")]  # passed on as it arrives

    first = await call(app, scope, b"title: Once")
    repeat = await call(app, scope, b"title: Once")

    assert first[0]["status"] == repeat[0]["status"] == 422  # the route's answer to that body
    assert (b"idempotent-replayed", b"true") in repeat[0]["headers"]
