"""An app served by a real uvicorn on a loopback port, in the test's event loop."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import uvicorn
from fastapi import FastAPI

from tests.service_process import free_port


@contextlib.asynccontextmanager
async def serving(
    app: FastAPI, *, startup_timeout: float = 10.0, **options: Any
) -> AsyncIterator[str]:
    """Yields the base URL; the app's lifespan is the caller's (the `app` fixture runs it).
    `options` go to `uvicorn.Config` (e.g. `headers.uvicorn_options()`, as `serve` runs it)."""
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        lifespan="off",
        log_config=None,
        access_log=False,
        **options,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(startup_timeout):
            while not server.started:
                if task.done():
                    task.result()
                await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        async with asyncio.timeout(10):
            await task
