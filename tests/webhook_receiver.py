"""A webhook receiver for tests: a real HTTP server on 127.0.0.1 that records what it gets and
answers the statuses a test scripts (200 once the script runs out)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from fastapi import FastAPI, Request, Response

from tests.live_server import serving


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class WebhookReceiver:
    url: str = ""
    statuses: list[int] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    arrived: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def wait_for(self, count: int, *, within_s: float = 15.0) -> list[Received]:
        """The first `count` requests, once they have arrived (bounded)."""
        async with asyncio.timeout(within_s), self.arrived:
            await self.arrived.wait_for(lambda: len(self.received) >= count)
        return self.received[:count]


@contextlib.asynccontextmanager
async def webhook_receiver(path: str = "/hook") -> AsyncIterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    app = FastAPI()

    @app.post(path)
    async def receive(request: Request) -> Response:
        body = await request.body()
        async with receiver.arrived:
            receiver.received.append(Received(dict(request.headers), body))
            receiver.arrived.notify_all()
        status = receiver.statuses.pop(0) if receiver.statuses else 200
        return Response(status_code=status)

    async with serving(app) as base_url:
        receiver.url = base_url + path
        yield receiver
