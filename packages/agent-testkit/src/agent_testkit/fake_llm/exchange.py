"""Drive one request through an ASGI app and hand its response back message by message.

Unlike `httpx.ASGITransport`, which runs the app to the end and buffers the body, this lets the client
read each SSE chunk as the app sends it, and lets a read timeout fire while the app hangs.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from concurrent.futures import Future
from typing import Any, TypeVar

from starlette.types import ASGIApp, Message, Scope

T = TypeVar("T")
Event = tuple[
    str, Any
]  # ("start", message) | ("body", bytes) | ("end", None) | ("error", exception)


class Exchange:
    """One request/response with the app running as a task on the current event loop."""

    def __init__(self, app: ASGIApp, scope: Scope, body: bytes) -> None:
        self.app = app
        self.scope = scope
        self.body = body
        self.events: asyncio.Queue[Event] = asyncio.Queue()
        self.closed = asyncio.Event()
        self.body_sent = False
        self.ended = False
        self.task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        try:
            await self.app(self.scope, self._receive, self._send)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # handed to the client side, which raises it there
            self.events.put_nowait(("error", exc))
        else:
            self._end()

    def _end(self) -> None:
        if not self.ended:
            self.ended = True
            self.events.put_nowait(("end", None))

    async def _receive(self) -> Message:
        if not self.body_sent:
            self.body_sent = True
            return {"type": "http.request", "body": self.body, "more_body": False}
        await self.closed.wait()
        return {"type": "http.disconnect"}

    async def _send(self, message: Message) -> None:
        if self.closed.is_set():
            return
        kind = message["type"]
        if kind == "http.response.start":
            self.events.put_nowait(("start", message))
        elif kind == "http.response.body":
            if body := message.get("body", b""):
                self.events.put_nowait(("body", body))
            if not message.get("more_body", False):
                self._end()

    async def next_event(self, read_timeout: float | None) -> Event:
        """The next thing the app did; raises TimeoutError if it did nothing for `read_timeout` seconds."""
        if not self.events.empty():
            return self.events.get_nowait()
        async with asyncio.timeout(read_timeout):
            return await self.events.get()

    def close(self) -> None:
        """The client is done: the app sees a disconnect, and a still-running app is cancelled."""
        self.closed.set()
        if not self.task.done():
            self.task.cancel()


class LoopThread:
    """A private event loop on a daemon thread, so sync clients can use the async app from anywhere,
    including from inside a running event loop (a sync client called by an async test)."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(
                    target=loop.run_forever, name="agent-testkit-fake-llm", daemon=True
                )
                thread.start()
                self._loop = loop
            return self._loop

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        future: Future[T] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return future.result()

    def call_soon(self, fn: Any, *args: Any) -> None:
        self.loop.call_soon_threadsafe(fn, *args)


LOOP_THREAD = LoopThread()
