"""Too many or too large request headers are 431 in the envelope, in process and over a socket.

The middleware (`headers.HeaderLimit`) is tried through the ASGI transport; the server's own
bound (h11 stops reading a request head at `MAX_HEAD_BYTES`, as `serve` runs uvicorn) through a
real uvicorn and a raw socket, since no well-behaved client sends a 1 MB header.
"""

from __future__ import annotations

import asyncio
import contextlib
import json

import httpx
from fastapi import FastAPI

from agent_service.headers import (
    MAX_HEAD_BYTES,
    MAX_HEADER_BYTES,
    MAX_HEADER_COUNT,
    uvicorn_options,
)
from tests.factories import TestUser
from tests.live_server import serving


def assert_431(r: httpx.Response) -> None:
    assert r.status_code == 431, r.text
    assert r.json()["error"] == "request_headers_too_large"
    assert r.json()["detail"]


async def test_too_many_headers_are_431(client: httpx.AsyncClient, user: TestUser) -> None:
    extra = {f"x-extra-{i}": "v" for i in range(MAX_HEADER_COUNT)}
    assert_431(await client.get("/api/tasks", headers={**user.headers, **extra}))


async def test_headers_too_large_in_all_are_431(client: httpx.AsyncClient) -> None:
    assert_431(await client.get("/healthz", headers={"x-big": "a" * MAX_HEADER_BYTES}))


async def test_headers_within_the_limits_are_read(
    client: httpx.AsyncClient, user: TestUser
) -> None:
    extra = {f"x-extra-{i}": "v" * 100 for i in range(MAX_HEADER_COUNT // 2)}
    r = await client.get("/api/tasks", headers={**user.headers, **extra})
    assert r.status_code == 200, r.text


async def raw_request(base_url: str, head: bytes) -> bytes:
    """Send `head` on a fresh connection; everything the server answers before it closes."""
    host, port = base_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        async with asyncio.timeout(10):
            writer.write(head)
            with contextlib.suppress(ConnectionError):  # the server stopped reading
                await writer.drain()
            return await reader.read()
    finally:
        writer.close()


async def test_a_megabyte_header_is_431_from_the_server(app: FastAPI) -> None:
    async with serving(app, **uvicorn_options()) as base_url:
        head = b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * 1_000_000 + b"\r\n\r\n"
        answer = await raw_request(base_url, head)
        status_line, _, rest = answer.partition(b"\r\n")
        assert status_line.startswith(b"HTTP/1.1 431"), answer[:200]
        body = json.loads(rest.split(b"\r\n\r\n", 1)[1])
        assert body["error"] == "request_headers_too_large"
        assert str(MAX_HEAD_BYTES) in body["detail"]
        # the server goes on answering other connections
        async with httpx.AsyncClient(base_url=base_url) as client:
            assert (await client.get("/healthz")).status_code == 200


async def test_two_thousand_headers_are_431_from_the_server(app: FastAPI) -> None:
    async with serving(app, **uvicorn_options()) as base_url:
        headers = b"".join(b"X-H-%d: v\r\n" % i for i in range(2000))
        answer = await raw_request(
            base_url, b"GET /healthz HTTP/1.1\r\nHost: t\r\n" + headers + b"\r\n"
        )
        assert answer.startswith(b"HTTP/1.1 431"), answer[:200]
        assert b"request_headers_too_large" in answer
