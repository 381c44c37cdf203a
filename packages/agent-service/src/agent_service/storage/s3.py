"""The S3-compatible backend (AWS S3, MinIO, Ceph, R2, moto...) through obstore.

`STORAGE_URL=s3://bucket/prefix` names the bucket and the key prefix. Everything else comes from
the standard `AWS_*` environment variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
`AWS_REGION`, `AWS_ENDPOINT_URL`, `AWS_ALLOW_HTTP`...), or from the URL's query for a
self-hosted store: `?endpoint=http://minio:9000&region=us-east-1&allow_http=true`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from collections.abc import AsyncIterable, AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

import anyio.to_thread
import obstore
from obstore.exceptions import BaseError as ObstoreError
from obstore.store import S3Store

from agent_service.storage import multipart
from agent_service.storage.base import ObjectNotFound, StorageUnavailable, check_key, limited

if TYPE_CHECKING:
    from obstore.store import RetryConfig

logger = logging.getLogger("agent_service.storage")

PART_BYTES = 5 * 1024 * 1024  # S3's smallest multipart part
PARTS_IN_FLIGHT = 2  # memory held by one upload: about PART_BYTES x (PARTS_IN_FLIGHT + 1)
READ_CHUNK_BYTES = 1024 * 1024
# Query keys passed to obstore's S3 configuration (all the rest is refused, so a typo is loud).
_CONFIG_KEYS = {
    "endpoint",
    "region",
    "access_key_id",
    "secret_access_key",
    "session_token",
    "virtual_hosted_style_request",
    "skip_signature",
}
_CLIENT_KEYS = {"allow_http", "allow_invalid_certificates", "timeout", "connect_timeout"}
_TRUE = {"1", "true", "yes", "on"}
# A store that is down answers 503 storage_unavailable within seconds, not after obstore's default
# 10 retries over up to 3 minutes (a request would hold its client, and the upload's memory).
RETRY: RetryConfig = {
    "max_retries": 3,
    "retry_timeout": timedelta(seconds=10),
    "backoff": {"init_backoff": timedelta(milliseconds=100), "max_backoff": timedelta(seconds=2)},
}
DEFAULT_CLIENT: dict[str, Any] = {"connect_timeout": "5s", "timeout": "60s"}


@contextlib.contextmanager
def _unavailable(operation: str, key: str) -> Iterator[None]:
    """The store's own failures (refused, reset, timed out, 5xx after the retries, a refusal of
    our credentials) as `StorageUnavailable`; not-found and our callers' errors pass through."""
    try:
        yield
    except ObstoreError as exc:
        logger.warning("object storage: %s of %r failed: %s", operation, key, str(exc)[:300])
        raise StorageUnavailable(operation) from exc


def parse_storage_url(url: str) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """(`s3://bucket/prefix` without its query, S3 config, client options) of a STORAGE_URL."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc:
        raise ValueError(
            f"STORAGE_URL must look like s3://bucket/prefix, not {parts.scheme!r}://..."
        )
    config: dict[str, Any] = {}
    client: dict[str, Any] = {}
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if name in _CONFIG_KEYS:
            config[name] = (
                value.lower() in _TRUE if name.endswith(("_request", "signature")) else value
            )
        elif name in _CLIENT_KEYS:
            client[name] = value.lower() in _TRUE if name.startswith("allow_") else value
        else:
            raise ValueError(f"STORAGE_URL has an unknown query parameter {name!r}.")
    return f"s3://{parts.netloc}{parts.path}", config, client


class S3Storage:
    """Objects under a bucket's prefix; uploads are multipart, aborted when the stream fails."""

    def __init__(self, store: S3Store) -> None:
        self.store = store

    @classmethod
    def from_url(cls, url: str) -> S3Storage:
        location, config, client = parse_storage_url(url)
        env_client = {"allow_http": True} if _env_allows_http() else {}
        options = {**DEFAULT_CLIENT, **env_client, **client}
        return cls(
            S3Store.from_url(location, config=config, client_options=options, retry_config=RETRY)  # type: ignore[arg-type]
        )

    async def put(
        self, key: str, chunks: AsyncIterable[bytes], *, max_bytes: int | None = None
    ) -> int:
        size = 0

        async def counted() -> AsyncIterator[bytes]:
            nonlocal size
            async for chunk in limited(chunks, max_bytes):
                size += len(chunk)
                yield chunk

        # obstore re-raises an error of the stream unchanged, after aborting the multipart upload
        # (and a failure of the store's, after trying to abort it: a store still down keeps the
        # parts, which `abort_uploads` ends once it is back; see `storage.jobs`)
        with _unavailable("upload", key):
            await obstore.put_async(
                self.store,
                check_key(key),
                counted(),
                chunk_size=PART_BYTES,
                max_concurrency=PARTS_IN_FLIGHT,
            )
        return size

    @asynccontextmanager
    async def local_copy(self, key: str) -> AsyncIterator[Path]:
        with tempfile.TemporaryDirectory(prefix="agent-service-") as folder:
            path = Path(folder) / "object"
            with path.open("wb") as out:
                async for chunk in self.read(key):
                    await anyio.to_thread.run_sync(out.write, chunk)
            yield path

    async def read(self, key: str) -> AsyncIterator[bytes]:
        with _unavailable("download", key):
            try:
                result = await obstore.get_async(self.store, check_key(key))
            except FileNotFoundError as exc:
                raise ObjectNotFound(key) from exc
            async for chunk in result.stream(min_chunk_size=READ_CHUNK_BYTES):
                yield bytes(chunk)

    async def delete(self, key: str) -> None:
        with (
            _unavailable("delete", key),
            contextlib.suppress(FileNotFoundError),  # S3 says nothing; some stores answer 404
        ):
            await obstore.delete_async(self.store, check_key(key))

    async def abort_uploads(self, key: str) -> int:
        path = "/".join(filter(None, [self.store.prefix, check_key(key)]))
        config, client = dict(self.store.config), dict(self.store.client_options or {})
        return await multipart.abort_uploads(multipart.bucket_of(config, client), path)

    async def keys(self, prefix: str = "") -> list[str]:
        with _unavailable("list", prefix):
            listed = await obstore.list(self.store, prefix or None).collect_async()
        return sorted(meta["path"] for meta in listed)


def _env_allows_http() -> bool:
    return os.environ.get("AWS_ALLOW_HTTP", "").lower() in _TRUE
