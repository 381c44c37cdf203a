"""An upload cut off mid-body (the client went away) leaves nothing in the local store's staging
folder: its cleanup runs to the end although the request that ran it is cancelled."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import anyio

from agent_service.storage.local import STAGING_FOLDER, LocalStorage


async def test_a_put_cancelled_mid_body_leaves_no_partial_file(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    first_written = anyio.Event()

    async def body() -> AsyncIterator[bytes]:
        yield b"x" * 1024
        first_written.set()  # the first chunk is being written: the client goes away now
        await anyio.sleep_forever()
        yield b""  # never reached

    with anyio.fail_after(30):
        async with anyio.create_task_group() as group:  # as Starlette cancels a request
            group.start_soon(storage.put, "user/doc.txt", body())
            await first_written.wait()
            group.cancel_scope.cancel()

    assert list((tmp_path / STAGING_FOLDER).iterdir()) == []
    assert not (tmp_path / "user" / "doc.txt").exists()
