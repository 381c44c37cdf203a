"""Object storage that goes away: an upload is 503 `storage_unavailable` with Retry-After (never a
500), nothing is half-written (no document row, no object), a multipart upload whose client fails
is aborted, one whose store failed is aborted once the store is back, and uploads work again.

The store is the suite's real S3-compatible server (moto's server mode), reached through the
fault-injecting TCP proxy of tests/faults.py, which a test cuts (a store that restarts or whose
host goes away) while the app talks to it.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import boto3
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.engine import make_url

from agent_service.jobs.models import Job
from agent_service.settings import Settings
from agent_service.storage.jobs import KIND as DISCARD_UPLOAD
from tests.conftest import StoredFiles, UploadFile, use_fast_jobs
from tests.factories import TestUser
from tests.faults import DatabaseProxy
from tests.live_server import serving

MIB = 1024 * 1024
BOUNDARY = "storagefaultsboundary"
PART_DEADLINE_S = 20


@pytest.fixture
def storage_backend() -> str:
    return "s3"


@pytest.fixture
def bucket() -> str:
    return f"faults-{uuid.uuid4().hex[:16]}"


@pytest.fixture
def store_proxy(s3_endpoint: str) -> Iterator[DatabaseProxy]:
    """A TCP proxy in front of the S3 server (the proxy speaks TCP, whatever runs over it)."""
    parsed = make_url(s3_endpoint.replace("http://", "s3://", 1))
    with DatabaseProxy(parsed.host or "127.0.0.1", parsed.port or 80) as proxy:
        yield proxy


@pytest.fixture
def storage_url(s3_endpoint: str, bucket: str, store_proxy: DatabaseProxy) -> str:
    httpx.put(f"{s3_endpoint}/{bucket}", timeout=10).raise_for_status()
    return (
        f"s3://{bucket}/files?endpoint=http://127.0.0.1:{store_proxy.port}&region=us-east-1"
        "&allow_http=true&access_key_id=test&secret_access_key=test"
    )


@pytest.fixture
def s3(s3_endpoint: str) -> Any:
    """A client of the S3 server itself (not through the proxy), to see what was left there."""
    return boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


@pytest.fixture
def cut_store(store_proxy: DatabaseProxy) -> Iterator[DatabaseProxy]:
    yield store_proxy
    store_proxy.restore()


def incomplete_uploads(s3: Any, bucket: str) -> list[dict[str, Any]]:
    uploads: list[dict[str, Any]] = s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    return uploads


def assert_storage_unavailable(r: httpx.Response) -> None:
    assert r.status_code == 503, r.text
    assert r.json()["error"] == "storage_unavailable"
    assert int(r.headers["retry-after"]) >= 1


async def documents_of(client: httpx.AsyncClient, user: TestUser) -> list[Any]:
    r = await client.get("/api/documents", headers=user.headers)
    assert r.status_code == 200, r.text
    documents: list[Any] = r.json()
    return documents


async def test_an_upload_while_the_store_is_down_is_503_and_keeps_nothing(
    client: httpx.AsyncClient,
    user: TestUser,
    upload_file: UploadFile,
    stored_files: StoredFiles,
    cut_store: DatabaseProxy,
) -> None:
    cut_store.cut()
    assert_storage_unavailable(await upload_file(user, b"Notes while the store is down.\n"))
    assert await documents_of(client, user) == []

    cut_store.restore()
    r = await upload_file(user, b"Notes once it is back.\n")
    assert r.status_code == 202, r.text
    assert [d["id"] for d in await documents_of(client, user)] == [r.json()["id"]]
    assert len(await stored_files()) == 1


async def multipart_body(
    file_bytes: int, *, after_first_part: Any = None, fail: bool = False
) -> AsyncIterator[bytes]:
    """A multipart/form-data body of one text file, streamed in 1 MiB pieces; once 6 MiB went
    (more than one S3 part) `after_first_part()` is awaited, then the rest is sent, or the client
    fails (`fail`: the body stops short, as a client that goes away)."""
    yield (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="big.txt"\r\n'
        "Content-Type: text/plain\r\n\r\n"
    ).encode()
    sent = 0
    while sent < file_bytes:
        yield b"a" * MIB
        sent += MIB
        if sent == 6 * MIB and after_first_part is not None:
            await after_first_part()
            if fail:
                raise ConnectionResetError("the client went away mid-upload")
    yield f"\r\n--{BOUNDARY}--\r\n".encode()


def part_uploaded(s3: Any, bucket: str) -> Any:
    """Waits (with a deadline) until the store holds a part of an upload in progress."""

    async def wait() -> None:
        async with asyncio.timeout(PART_DEADLINE_S):
            while True:
                for upload in incomplete_uploads(s3, bucket):
                    listed = s3.list_parts(
                        Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                    )
                    if listed.get("Parts"):
                        return
                await asyncio.sleep(0.02)

    return wait


async def post_upload(
    client: httpx.AsyncClient, user: TestUser, body: AsyncIterator[bytes]
) -> httpx.Response:
    headers = {**user.headers, "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
    return await client.post("/api/documents", content=body, headers=headers)


async def test_a_store_that_goes_away_mid_upload_is_503_and_keeps_nothing(
    client: httpx.AsyncClient,
    user: TestUser,
    stored_files: StoredFiles,
    cut_store: DatabaseProxy,
    s3: Any,
    bucket: str,
) -> None:
    wait_for_part = part_uploaded(s3, bucket)

    async def cut_after_a_part() -> None:
        await wait_for_part()
        cut_store.cut()

    r = await post_upload(client, user, multipart_body(12 * MIB, after_first_part=cut_after_a_part))

    assert_storage_unavailable(r)
    cut_store.restore()
    assert await documents_of(client, user) == []
    assert await stored_files() == []  # no object: a multipart upload is visible only once complete


async def test_a_client_that_goes_away_mid_upload_leaves_no_multipart_upload(
    app: FastAPI,
    client: httpx.AsyncClient,
    user: TestUser,
    stored_files: StoredFiles,
    s3: Any,
    bucket: str,
) -> None:
    """Through a real server (uvicorn), so the app sees the connection close as a real one."""
    body = multipart_body(12 * MIB, after_first_part=part_uploaded(s3, bucket), fail=True)
    async with serving(app) as base_url, httpx.AsyncClient(base_url=base_url) as remote:
        with pytest.raises(ConnectionResetError):
            await post_upload(remote, user, body)
        async with asyncio.timeout(PART_DEADLINE_S):  # the server ends it after the client
            while True:
                if not incomplete_uploads(s3, bucket):
                    break
                await asyncio.sleep(0.02)

    assert incomplete_uploads(s3, bucket) == []  # aborted, its parts gone
    assert await documents_of(client, user) == []
    assert await stored_files() == []


async def test_aborting_the_uploads_of_a_key_leaves_those_of_other_keys(
    app: FastAPI, s3: Any, bucket: str
) -> None:
    for key in (
        "files/documents/a",
        "files/documents/ab",
        "files/documents/b",
        "files/documents/a",
    ):
        s3.create_multipart_upload(Bucket=bucket, Key=key)

    assert await app.state.storage.abort_uploads("documents/a") == 2
    left = sorted(upload["Key"] for upload in incomplete_uploads(s3, bucket))
    assert left == ["files/documents/ab", "files/documents/b"]  # a longer name is another key
    assert await app.state.storage.abort_uploads("documents/a") == 0


async def discard_jobs(app: FastAPI) -> list[Job]:
    async with app.state.sessionmaker() as session:
        return list(await session.scalars(select(Job).where(Job.kind == DISCARD_UPLOAD)))


async def eventually(check: Callable[[], Awaitable[bool]]) -> None:
    """Until `check()`: 60 s at most (each attempt of the job waits for obstore's own retries)."""
    async with asyncio.timeout(60):
        while not await check():  # noqa: ASYNC110 - polling another process's state
            await asyncio.sleep(0.02)


class TestAStoreThatComesBack:
    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        return use_fast_jobs(settings)  # retried every few hundredths of a second, not seconds

    async def test_the_parts_it_kept_are_aborted_once_it_is_back(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        user: TestUser,
        stored_files: StoredFiles,
        cut_store: DatabaseProxy,
        s3: Any,
        bucket: str,
    ) -> None:
        """obstore's own abort fails too while the store is down: a job ends the upload later."""
        wait_for_part = part_uploaded(s3, bucket)

        async def cut_after_a_part() -> None:
            await wait_for_part()
            cut_store.cut()

        r = await post_upload(
            client, user, multipart_body(12 * MIB, after_first_part=cut_after_a_part)
        )
        assert_storage_unavailable(r)
        [left] = incomplete_uploads(s3, bucket)  # seen on the server itself, not through the cut
        assert left["Key"].startswith("files/documents/")

        async def tried_twice() -> bool:  # while the store is down: not given up
            return [job.attempts >= 2 for job in await discard_jobs(app)] == [True]

        await eventually(tried_twice)
        [job] = await discard_jobs(app)
        assert job.status in ("queued", "running") and job.payload == {"key": left["Key"][6:]}
        assert incomplete_uploads(s3, bucket) == [left]

        cut_store.restore()

        async def job_done() -> bool:
            return [job.status for job in await discard_jobs(app)] == ["succeeded"]

        await eventually(job_done)
        assert incomplete_uploads(s3, bucket) == []

        assert await documents_of(client, user) == []
        assert await stored_files() == []

    async def test_an_upload_that_failed_for_another_reason_leaves_no_job(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        user: TestUser,
        upload_file: UploadFile,
    ) -> None:
        r = await upload_file(user, b"")
        assert r.status_code == 400, r.text
        assert await discard_jobs(app) == []
