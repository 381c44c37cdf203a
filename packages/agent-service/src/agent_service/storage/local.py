"""The default backend: a folder (under `DATA_DIR`) on this host."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterable, AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import IO

import anyio
import anyio.to_thread

from agent_service.storage.base import ObjectNotFound, check_key, limited

STAGING_FOLDER = "uploads"  # partial writes, renamed into place when complete
READ_CHUNK_BYTES = 1024 * 1024


class LocalStorage:
    """Objects are files under `root`; a put is written aside and renamed, so it is atomic."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path_of(self, key: str) -> Path:
        return self.root / check_key(key)

    async def put(
        self, key: str, chunks: AsyncIterable[bytes], *, max_bytes: int | None = None
    ) -> int:
        target = self.path_of(key)
        staged = self.root / STAGING_FOLDER / f"{uuid.uuid4().hex}.part"
        out = await anyio.to_thread.run_sync(_open_new, staged)
        size = 0
        try:
            async for chunk in limited(chunks, max_bytes):
                await anyio.to_thread.run_sync(out.write, chunk)
                size += len(chunk)
            await anyio.to_thread.run_sync(out.close)
            await anyio.to_thread.run_sync(_move, staged, target)
        except BaseException:
            # shielded: a request cancelled mid-body (the client went away) would otherwise cancel
            # its own cleanup too, and leave the open, half-written file behind
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(_discard, out, staged)
            raise
        return size

    @asynccontextmanager
    async def local_copy(self, key: str) -> AsyncIterator[Path]:
        path = self.path_of(key)
        if not await anyio.to_thread.run_sync(path.is_file):
            raise ObjectNotFound(key)
        yield path

    async def read(self, key: str) -> AsyncIterator[bytes]:
        path = self.path_of(key)
        try:
            source = await anyio.to_thread.run_sync(path.open, "rb")
        except FileNotFoundError as exc:
            raise ObjectNotFound(key) from exc
        try:
            while chunk := await anyio.to_thread.run_sync(source.read, READ_CHUNK_BYTES):
                yield chunk
        finally:
            await anyio.to_thread.run_sync(source.close)

    async def delete(self, key: str) -> None:
        await anyio.to_thread.run_sync(lambda: self.path_of(key).unlink(missing_ok=True))

    async def abort_uploads(self, key: str) -> int:
        return 0  # a put's staged file is removed by the put itself, whatever failed

    async def keys(self, prefix: str = "") -> list[str]:
        return await anyio.to_thread.run_sync(self._keys, prefix)

    def _keys(self, prefix: str) -> list[str]:
        folder, _, _ = prefix.rpartition("/")
        start = self.path_of(folder) if folder else self.root
        if not start.is_dir():
            return []
        found = (
            path.relative_to(self.root).as_posix()
            for path in start.rglob("*")
            if path.is_file() and path.parent != self.root / STAGING_FOLDER
        )
        return sorted(key for key in found if key.startswith(prefix))


def _open_new(path: Path) -> IO[bytes]:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.open("xb")


def _move(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(source, target)


def _discard(out: IO[bytes], path: Path) -> None:
    out.close()
    path.unlink(missing_ok=True)
