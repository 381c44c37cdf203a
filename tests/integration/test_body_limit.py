"""Every request body but an upload is limited while it is read (MAX_JSON_BYTES): 413 in the envelope.

Bodies really over the limit are sent: declared with Content-Length (refused before a byte is
read) and chunked without a length (refused once the bytes read pass the limit), through the app's
ASGI interface (which counts exactly what the app pulled) and through a real uvicorn socket.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from agent_service.settings import Settings
from tests.factories import TestUser
from tests.live_server import serving

LIMIT = 1024 * 1024
CHUNK = 64 * 1024


def assert_too_large(status: int, body: dict[str, Any]) -> None:
    assert status == 413
    assert body["error"] == "request_too_large"
    assert str(LIMIT) in body["detail"]
    assert set(body) == {"error", "detail"}


def oversized_json(size: int) -> bytes:
    """A login body of exactly `size` bytes."""
    empty = len(json.dumps({"email": "a@example.com", "password": ""}))
    body = json.dumps({"email": "a@example.com", "password": "x" * (size - empty)}).encode()
    assert len(body) == size
    return body


async def test_default_limit_is_one_megabyte(settings: Settings) -> None:
    assert settings.max_json_bytes == LIMIT


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_login_body_over_the_limit_is_413(client: httpx.AsyncClient, chunked: bool) -> None:
    """No token needed to send it: the limit comes before authentication and validation."""
    body = oversized_json(LIMIT + 1)

    async def stream() -> AsyncIterator[bytes]:
        for start in range(0, len(body), CHUNK):
            yield body[start : start + CHUNK]

    r = await client.post(
        "/api/auth/login",
        content=stream() if chunked else body,
        headers={"Content-Type": "application/json"},
    )
    assert ("content-length" in r.request.headers) is not chunked
    assert_too_large(r.status_code, r.json())


async def test_body_at_the_limit_is_read(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/api/auth/login",
        content=oversized_json(LIMIT),
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 422  # the password is too long for the schema: it was read


async def test_authenticated_routes_are_limited_too(
    client: httpx.AsyncClient, user: TestUser
) -> None:
    big = {"title": "t", "description": "d" * (LIMIT + 10)}
    r = await client.post("/api/tasks", json=big, headers=user.headers)
    assert_too_large(r.status_code, r.json())
    r = await client.patch("/api/profile", json={"name": "n" * (LIMIT + 10)}, headers=user.headers)
    assert_too_large(r.status_code, r.json())


class CountingBody:
    """An ASGI `receive` that hands out a body in chunks and counts what the app pulled."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.pulled = 0

    async def receive(self) -> dict[str, Any]:
        if self.pulled >= self.total:
            await asyncio.sleep(3600)  # a client that sends nothing more
        size = min(CHUNK, self.total - self.pulled)
        self.pulled += size
        return {"type": "http.request", "body": b"x" * size, "more_body": self.pulled < self.total}


async def call_app(app: FastAPI, body: CountingBody, headers: list[tuple[bytes, bytes]]) -> Any:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/auth/login",
        "raw_path": b"/api/auth/login",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"t"), (b"content-type", b"application/json"), *headers],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
        "state": {},
    }
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async with asyncio.timeout(10):
        await app(scope, body.receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    payload = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start, json.loads(payload)


async def test_declared_length_is_refused_before_reading(app: FastAPI) -> None:
    body = CountingBody(500 * 1024 * 1024)
    start, payload = await call_app(app, body, [(b"content-length", str(body.total).encode())])
    assert_too_large(start["status"], payload)
    assert body.pulled == 0
    assert (b"connection", b"close") in start["headers"]  # the rest is never read


async def test_chunked_body_is_refused_once_it_passes_the_limit(app: FastAPI) -> None:
    body = CountingBody(500 * 1024 * 1024)
    start, payload = await call_app(app, body, [(b"transfer-encoding", b"chunked")])
    assert_too_large(start["status"], payload)
    assert LIMIT < body.pulled <= LIMIT + CHUNK


async def read_response(reader: asyncio.StreamReader) -> tuple[bytes, dict[str, Any]]:
    head = await reader.readuntil(b"\r\n\r\n")
    length = int(head.lower().split(b"content-length: ", 1)[1].split(b"\r\n", 1)[0])
    return head, json.loads(await reader.readexactly(length))


async def test_real_server_refuses_a_declared_500_mb_body_without_reading_it(
    app: FastAPI,
) -> None:
    async with serving(app) as base_url, asyncio.timeout(20):
        port = int(base_url.rsplit(":", 1)[1])
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            b"POST /api/auth/login HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
            b"Content-Length: 524288000\r\n\r\n" + b"{" * CHUNK
        )
        await writer.drain()
        head, payload = await read_response(reader)
        writer.close()
    assert head.startswith(b"HTTP/1.1 413")
    assert b"connection: close" in head.lower()
    assert_too_large(413, payload)


async def test_real_server_refuses_a_chunked_body_past_the_limit(app: FastAPI) -> None:
    chunk = b"%x\r\n%s\r\n" % (CHUNK, b"x" * CHUNK)
    async with serving(app) as base_url, asyncio.timeout(20):
        port = int(base_url.rsplit(":", 1)[1])
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            b"POST /api/auth/login HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        for _ in range(LIMIT // CHUNK + 2):  # just past the limit, and never a final chunk
            writer.write(chunk)
        await writer.drain()
        head, payload = await read_response(reader)
        writer.close()
    assert head.startswith(b"HTTP/1.1 413")
    assert_too_large(413, payload)


async def test_uploads_keep_their_own_larger_limit(
    client: httpx.AsyncClient, user: TestUser
) -> None:
    """A 2 MB text file is over MAX_JSON_BYTES but well within MAX_UPLOAD_BYTES."""
    text = ("A line of a longer document about nothing in particular.\n" * 40_000).encode()
    assert len(text) > 2 * LIMIT
    r = await client.post(
        "/api/documents", files={"file": ("notes.txt", text, "text/plain")}, headers=user.headers
    )
    assert r.status_code == 202, r.text
