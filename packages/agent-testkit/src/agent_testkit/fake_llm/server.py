"""`FakeLLMServer`: the same fake served by uvicorn on 127.0.0.1, for apps running in another process."""

from __future__ import annotations

import logging
import threading
import time
from types import TracebackType
from typing import Any

import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agent_testkit.fake_llm.app import FakeDisconnect
from agent_testkit.fake_llm.fake import FakeLLM

START_TIMEOUT_S = 10.0


class _DropConnection:
    """Turns a scripted disconnect into a dropped socket.

    uvicorn answers 500 to an app that fails before it starts a response, and closes the connection
    only after a start; so we start one that promises a body and never send it.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except FakeDisconnect:
            if not started:
                await send(
                    {
                        "type": "http.response.start",
                        "status": 200,
                        "headers": [(b"content-length", b"1")],
                    }
                )
            raise


class _HideScriptedDisconnects(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], FakeDisconnect))


class FakeLLMServer(FakeLLM):
    """A `FakeLLM` reached over loopback HTTP instead of in-process; same script API and `calls`.

    Use as a context manager (or `start()`/`stop()`); `base_url` is known once started. The port is
    free and chosen by the OS unless given.
    """

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, **options: Any) -> None:
        super().__init__(**options)
        self.host = host
        self.port = port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> FakeLLMServer:
        logging.getLogger("uvicorn.error").addFilter(_HideScriptedDisconnects())
        config = uvicorn.Config(
            _DropConnection(self.app),
            host=self.host,
            port=self.port,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, name="fake-llm-server", daemon=True
        )
        self._thread.start()
        self._wait_started()
        sockets = self._server.servers[0].sockets
        self.port = sockets[0].getsockname()[1]
        self.base_url = f"http://{self.host}:{self.port}/v1"
        self.base_urls = [self.base_url]
        return self

    def _wait_started(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        assert self._server is not None
        assert self._thread is not None
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the fake LLM server did not start on {self.host}:{self.port}")
            time.sleep(0.005)

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=START_TIMEOUT_S)
        self._server = None
        self._thread = None

    def __enter__(self) -> FakeLLMServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
        if exc_type is None:
            self.verify()

    def __repr__(self) -> str:
        return f"<FakeLLMServer {self.base_url} calls={len(self.calls)} left={len(self.remaining)}>"
