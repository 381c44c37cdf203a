"""The storage backends, each against the real thing: a folder, and a moto S3 server process."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from agent_service.settings import Settings
from agent_service.storage import (
    InvalidKey,
    LocalStorage,
    ObjectNotFound,
    ObjectStorage,
    ObjectTooLarge,
    build_storage,
)
from agent_service.storage.s3 import S3Storage, parse_storage_url
from tests.conftest import STORAGE_BACKENDS

MIB = 1024 * 1024


@pytest.fixture(params=STORAGE_BACKENDS)
def storage_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def storage(settings: Settings) -> ObjectStorage:
    return build_storage(settings)


class Chunks:
    """An upload's body: `count` chunks of `size` bytes, counting how many were pulled."""

    def __init__(self, count: int, size: int, *, fail_after: int | None = None) -> None:
        self.count, self.size, self.fail_after = count, size, fail_after
        self.pulled = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for i in range(self.count):
            if self.fail_after is not None and i == self.fail_after:
                raise ConnectionResetError("the client went away")
            self.pulled += 1
            yield bytes([65 + i % 26]) * self.size


async def read_all(storage: ObjectStorage, key: str) -> bytes:
    return b"".join([chunk async for chunk in storage.read(key)])


def test_the_backend_follows_storage_url(storage: ObjectStorage, settings: Settings) -> None:
    expected = S3Storage if settings.storage_url else LocalStorage
    assert isinstance(storage, expected)


async def test_put_read_copy_list_and_delete(storage: ObjectStorage) -> None:
    body = Chunks(3, 3 * MIB)  # 9 MiB: more than one S3 multipart part

    assert await storage.put("documents/a", body) == 9 * MIB
    await storage.put("other/b", Chunks(1, 10))

    data = await read_all(storage, "documents/a")
    assert len(data) == 9 * MIB and data[-1:] == b"C"
    async with storage.local_copy("documents/a") as path:
        assert path.stat().st_size == 9 * MIB
    assert await storage.keys("documents/") == ["documents/a"]
    assert await storage.keys() == ["documents/a", "other/b"]
    await storage.delete("documents/a")
    await storage.delete("documents/a")  # twice: nothing to delete is not an error
    assert await storage.keys("documents/") == []


async def test_a_put_over_the_limit_stops_reading_and_keeps_nothing(storage: ObjectStorage) -> None:
    body = Chunks(100, MIB)

    with pytest.raises(ObjectTooLarge):
        await storage.put("documents/big", body, max_bytes=6 * MIB)

    assert body.pulled == 7  # the chunk that crossed the limit was the last one read
    assert await storage.keys() == []


async def test_a_put_whose_stream_fails_keeps_nothing(storage: ObjectStorage) -> None:
    with pytest.raises(ConnectionResetError):
        await storage.put("documents/cut", Chunks(10, 3 * MIB, fail_after=3))

    assert await storage.keys() == []
    with pytest.raises(ObjectNotFound):
        await read_all(storage, "documents/cut")


async def test_a_put_replaces_the_object_whole(storage: ObjectStorage) -> None:
    await storage.put("documents/a", Chunks(2, 100))
    await storage.put("documents/a", Chunks(1, 5))

    assert await read_all(storage, "documents/a") == b"AAAAA"


async def test_a_missing_object_is_not_found(storage: ObjectStorage) -> None:
    with pytest.raises(ObjectNotFound):
        await read_all(storage, "documents/none")
    with pytest.raises(ObjectNotFound):
        async with storage.local_copy("documents/none"):
            pass


@pytest.mark.parametrize("key", ["", "/etc/passwd", "../x", "a/../../x", "a//b", "a\\b", "."])
async def test_keys_that_could_escape_the_root_are_refused(
    storage: ObjectStorage, key: str
) -> None:
    with pytest.raises(InvalidKey):
        await storage.put(key, Chunks(1, 1))


def test_storage_url_query_configures_a_self_hosted_store() -> None:
    location, config, client = parse_storage_url(
        "s3://bucket/some/prefix?endpoint=http://minio:9000&region=eu-west-1&allow_http=true"
    )
    assert location == "s3://bucket/some/prefix"
    assert config == {"endpoint": "http://minio:9000", "region": "eu-west-1"}
    assert client == {"allow_http": True}


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("file:///tmp/x", "s3://bucket/prefix"),
        ("s3:///prefix", "s3://bucket/prefix"),
        ("s3://bucket/p?endpiont=http://x", "'endpiont'"),
    ],
)
def test_a_wrong_storage_url_says_what_is_wrong(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_storage_url(url)
