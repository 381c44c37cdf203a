"""Response bodies as httpx/httpx2 byte streams: replayed chunk by chunk (at the recorded pace, scaled),
and recorded chunk by chunk while the client reads them, so recording does not buffer a stream either.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from types import ModuleType
from typing import Any

OnDone = Callable[[list[bytes], list[float]], None]  # chunks, delay in ms before each


class _SyncReplay:
    def __init__(self, chunks: list[bytes], delays_s: list[float] | None) -> None:
        self.chunks, self.delays_s = chunks, delays_s

    def __iter__(self) -> Iterator[bytes]:
        for index, chunk in enumerate(self.chunks):
            if self.delays_s and self.delays_s[index] > 0:
                time.sleep(self.delays_s[index])
            yield chunk

    def close(self) -> None:
        pass


class _AsyncReplay:
    def __init__(self, chunks: list[bytes], delays_s: list[float] | None) -> None:
        self.chunks, self.delays_s = chunks, delays_s

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for index, chunk in enumerate(self.chunks):
            if self.delays_s and self.delays_s[index] > 0:
                await asyncio.sleep(self.delays_s[index])
            yield chunk

    async def aclose(self) -> None:
        pass


class _Recorder:
    """Collects the chunks of a real response as they pass, and reports them once, when it ends."""

    def __init__(self, inner: Any, on_done: OnDone) -> None:
        self.inner, self.on_done = inner, on_done
        self.chunks: list[bytes] = []
        self.delays_ms: list[float] = []
        self.last = time.monotonic()
        self.finished = False

    def took(self, chunk: bytes) -> None:
        now = time.monotonic()
        self.chunks.append(chunk)
        self.delays_ms.append((now - self.last) * 1000)
        self.last = now

    def finish(self) -> None:
        """Report what was read; a client that stopped reading early gets that much on replay too."""
        if not self.finished:
            self.finished = True
            self.on_done(self.chunks, self.delays_ms)

    def failed(self) -> None:
        self.finished = True  # a broken connection is not recorded


class _SyncRecording(_Recorder):
    def __iter__(self) -> Iterator[bytes]:
        self.last = time.monotonic()
        try:
            for chunk in self.inner:
                self.took(chunk)
                yield chunk
        except Exception:
            self.failed()
            raise
        self.finish()

    def close(self) -> None:
        try:
            self.inner.close()
        finally:
            self.finish()


class _AsyncRecording(_Recorder):
    async def __aiter__(self) -> AsyncIterator[bytes]:
        self.last = time.monotonic()
        try:
            async for chunk in self.inner:
                self.took(chunk)
                yield chunk
        except Exception:
            self.failed()
            raise
        self.finish()

    async def aclose(self) -> None:
        try:
            await self.inner.aclose()
        finally:
            self.finish()


_CLASSES: dict[tuple[str, str], type] = {}


def _as_module_stream(module: ModuleType, body: type, base_name: str) -> type:
    """`body` as the module's own byte stream class, which its client checks with isinstance."""
    key = (module.__name__, body.__name__)
    if key not in _CLASSES:
        _CLASSES[key] = type(body.__name__, (body, getattr(module, base_name)), {})
    return _CLASSES[key]


def replay_stream(
    module: ModuleType, chunks: list[bytes], delays_s: list[float] | None, *, is_async: bool
) -> Any:
    if is_async:
        return _as_module_stream(module, _AsyncReplay, "AsyncByteStream")(chunks, delays_s)
    return _as_module_stream(module, _SyncReplay, "SyncByteStream")(chunks, delays_s)


def recording_stream(module: ModuleType, inner: Any, on_done: OnDone, *, is_async: bool) -> Any:
    if is_async:
        return _as_module_stream(module, _AsyncRecording, "AsyncByteStream")(inner, on_done)
    return _as_module_stream(module, _SyncRecording, "SyncByteStream")(inner, on_done)
