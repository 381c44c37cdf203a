"""The storage interface every backend implements, and its errors.

Keys are relative, slash-separated names (`documents/<hex>`); a backend maps them to a folder or
to an object store's prefix. Callers never see paths or URLs, so the same code runs on one host
with a local folder and on many hosts sharing an S3-compatible bucket.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Protocol

from agent_service.errors import UpstreamError


class StorageError(Exception):
    """Base of the storage errors (they are not HTTP errors: callers decide what a user sees),
    but for `StorageUnavailable`, which is the same answer wherever it happens."""


class StorageUnavailable(StorageError, UpstreamError):
    """The object store did not answer, or failed, after its retries: 503 `storage_unavailable`
    with Retry-After, on every route and job that touches a file. Nothing was half-written: a put
    that fails leaves no object (its multipart upload aborted), and its caller keeps no row."""

    code = "storage_unavailable"

    def __init__(self, operation: str, *, retry_after_s: int = 5) -> None:
        super().__init__(
            f"File storage is unavailable ({operation} failed); nothing was stored, retry in a "
            "moment.",
            headers={"Retry-After": str(retry_after_s)},
        )


class ObjectNotFound(StorageError):
    def __init__(self, key: str) -> None:
        super().__init__(f"No stored object {key!r}.")
        self.key = key


class ObjectTooLarge(StorageError):
    def __init__(self, max_bytes: int) -> None:
        super().__init__(f"The object is larger than {max_bytes} bytes.")
        self.max_bytes = max_bytes


class InvalidKey(StorageError, ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(f"Storage key {key!r} is not a relative slash-separated name.")


class ObjectStorage(Protocol):
    """Where uploaded files live: put a stream, read it back, delete it."""

    async def put(
        self, key: str, chunks: AsyncIterable[bytes], *, max_bytes: int | None = None
    ) -> int:
        """Store `chunks` under `key` as they arrive; the number of bytes stored.

        All or nothing: if `chunks` raises, or passes `max_bytes` (`ObjectTooLarge`, raised while
        reading, before the rest is consumed), nothing is left under `key`.
        """
        ...

    def local_copy(self, key: str) -> AbstractAsyncContextManager[Path]:
        """The object as a local file for the duration of the block (`ObjectNotFound` if absent).

        For parsers that need random access (pypdf, zipfile); a remote object is downloaded
        to a temporary file that is removed afterwards.
        """
        ...

    def read(self, key: str) -> AsyncIterator[bytes]:
        """The object's bytes, streamed in chunks (`ObjectNotFound` if absent)."""
        ...

    async def delete(self, key: str) -> None:
        """Remove the object; nothing happens when there is none."""
        ...

    async def abort_uploads(self, key: str) -> int:
        """End what a put of `key` left unfinished (an object store's incomplete multipart
        uploads, when the store failed during the put and then its abort); the number ended.
        `StorageUnavailable` while the store does not answer."""
        ...

    async def keys(self, prefix: str = "") -> list[str]:
        """Every stored key starting with `prefix`, sorted (for operators and tests)."""
        ...


def check_key(key: str) -> str:
    """`key` itself, refused when it could escape the storage root."""
    parts = key.split("/")
    if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts) or "\\" in key:
        raise InvalidKey(key)
    return key


async def limited(chunks: AsyncIterable[bytes], max_bytes: int | None) -> AsyncIterator[bytes]:
    """`chunks` passed through, raising `ObjectTooLarge` as soon as they pass `max_bytes`."""
    total = 0
    async for chunk in chunks:
        total += len(chunk)
        if max_bytes is not None and total > max_bytes:
            raise ObjectTooLarge(max_bytes)
        yield chunk
