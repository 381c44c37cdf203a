"""Durable jobs: retries with backoff, final failure, interrupted jobs picked up again, both runners."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent_service.app import create_app
from agent_service.db import utcnow
from agent_service.documents import service as documents
from agent_service.documents.extract import open_source
from agent_service.documents.models import Document, DocumentChunk
from agent_service.documents.processing import page_passages
from agent_service.documents.sniff import DocumentKind
from agent_service.jobs import service as jobs
from agent_service.jobs.models import Job
from agent_service.settings import Settings
from tests.conftest import (
    JOB_RUNNERS,
    LONG_PDF_PAGES,
    PDF_FIXTURES,
    UploadFile,
    WaitProcessed,
    long_pdf,
    use_fast_jobs,
)
from tests.database import RowEraser
from tests.factories import TestUser


@pytest.fixture(params=JOB_RUNNERS)
def runner_settings(settings: Settings, request: pytest.FixtureRequest) -> Settings:
    return use_fast_jobs(settings, request.param)


async def job_of(sessionmaker: async_sessionmaker[AsyncSession], kind: str) -> Job:
    async with sessionmaker() as session:
        return (await session.scalars(select(Job).where(Job.kind == kind))).one()


async def wait_for_job(
    sessionmaker: async_sessionmaker[AsyncSession], job_id: uuid.UUID, timeout_s: float = 20
) -> Job:
    deadline = time.monotonic() + timeout_s
    while True:
        async with sessionmaker() as session:
            job = await session.get(Job, job_id)
        assert job is not None
        if job.status in ("succeeded", "failed") or time.monotonic() > deadline:
            return job
        await asyncio.sleep(0.02)


class OnBothRunners:
    @pytest.fixture
    def settings(self, runner_settings: Settings) -> Settings:
        return runner_settings

    @pytest.fixture(autouse=True)
    def _worker(self, job_worker: None) -> None:
        """With procrastinate, a worker runs beside the app."""


class TestRetries(OnBothRunners):
    @pytest.fixture
    def settings(self, runner_settings: Settings) -> Settings:
        runner_settings.llm_api_key = SecretStr("test-key")
        runner_settings.llm_base_url = "http://127.0.0.1:9/v1"  # nothing listens there
        runner_settings.embedding_model = "text-embedding-3-small"
        return runner_settings

    async def test_a_job_that_keeps_failing_is_retried_then_fails_its_document(
        self,
        app: FastAPI,
        upload_file: UploadFile,
        wait_processed: WaitProcessed,
        user: TestUser,
    ) -> None:
        r = await upload_file(user, "pdflatex-4-pages.pdf")
        document = await wait_processed(user, r.json()["id"])

        assert document["status"] == "failed"
        assert document["error"] == (
            "Gave up after 3 attempts: The embedding provider could not compute embeddings "
            "(APIConnectionError); check EMBEDDING_MODEL and LLM_BASE_URL, or unset "
            "EMBEDDING_MODEL to index with full-text search only."
        )
        assert document["chunk_count"] == 0  # no half-built index is kept
        job = await job_of(app.state.sessionmaker, "process_document")
        job = await wait_for_job(app.state.sessionmaker, job.id)  # recorded just after the document
        assert (job.status, job.attempts, job.max_attempts) == ("failed", 3, 3)
        assert job.last_error == document["error"]
        assert job.finished_at is not None


class TestJobs(OnBothRunners):
    async def test_a_job_of_an_unknown_kind_fails_readably(self, app: FastAPI) -> None:
        async with app.state.sessionmaker() as session:
            job = await jobs.enqueue_job(session, "no_such_kind", {}, max_attempts=3)
            await session.commit()
        await app.state.job_queue.submit(job.id)

        finished = await wait_for_job(app.state.sessionmaker, job.id)
        assert (finished.status, finished.attempts) == ("failed", 1)
        assert finished.last_error == "No handler for jobs of kind 'no_such_kind'."

    async def test_a_job_for_a_deleted_document_succeeds_without_work(
        self, app: FastAPI, upload_file: UploadFile, client: httpx.AsyncClient, user: TestUser
    ) -> None:
        r = await upload_file(user, "pdflatex-4-pages.pdf")
        await client.delete(f"/api/documents/{r.json()['id']}", headers=user.headers)

        job = await job_of(app.state.sessionmaker, "process_document")
        finished = await wait_for_job(app.state.sessionmaker, job.id)
        assert finished.status == "succeeded"


def test_backoff_doubles_up_to_five_minutes() -> None:
    assert [jobs.retry_delay_s(n, 2.0) for n in (1, 2, 3, 4)] == [2.0, 4.0, 8.0, 16.0]
    assert jobs.retry_delay_s(30, 2.0) == 300.0


@pytest.fixture
def inline_settings(settings: Settings) -> Settings:
    return use_fast_jobs(settings, "inline")


@pytest.fixture
async def database(
    inline_settings: Settings, rows: RowEraser
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """The test database without a running app: these tests start and stop apps themselves."""
    from agent_service.db import create_engine, create_sessionmaker

    engine = create_engine(inline_settings.resolved_database_url)
    try:
        yield create_sessionmaker(engine)
    finally:
        await engine.dispose()
        rows.erase()


async def make_owner(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings
) -> uuid.UUID:
    from tests import factories

    return (await factories.make_user(sessionmaker, settings)).id


async def run_app_until(settings: Settings, done: Any, timeout_s: float = 30) -> None:
    """Start an app (its runner picks up due jobs), wait until `done()` is true, stop it."""
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        deadline = time.monotonic() + timeout_s
        while not await done() and time.monotonic() < deadline:  # noqa: ASYNC110 - polling
            await asyncio.sleep(0.05)


async def test_a_job_cut_short_by_a_dead_process_resumes_at_start_up(
    inline_settings: Settings, database: async_sessionmaker[AsyncSession]
) -> None:
    """The state a killed worker leaves: job `running` with an old heartbeat, pages 1-2 stored and
    page 3 half-stored. The next start takes the job over and finishes the document exactly."""
    settings = inline_settings
    owner = await make_owner(database, settings)
    source = open_source(PDF_FIXTURES / "pdflatex-4-pages.pdf", DocumentKind.PDF)
    passages = [p for index in range(4) for p in page_passages(source, index)]
    document_id = uuid.uuid4()
    stored = settings.data_dir / documents.storage_key(document_id)  # the local storage backend
    stored.parent.mkdir(parents=True)
    stored.write_bytes((PDF_FIXTURES / "pdflatex-4-pages.pdf").read_bytes())
    async with database() as session:
        before = [p for p in passages if p.page <= 3][:-1]  # page 3 lost its last chunk
        session.add(
            Document(
                id=document_id,
                user_id=owner,
                filename="pdflatex-4-pages.pdf",
                content_type="application/pdf",
                size_bytes=stored.stat().st_size,
                sha256="0" * 64,
                page_count=4,
                pages_processed=2,
                chunk_count=sum(1 for p in passages if p.page <= 2),
                progress=0.5,
            )
        )
        await session.flush()
        session.add_all(
            DocumentChunk(
                document_id=document_id,
                ordinal=i,
                page=p.page,
                text=p.text,
                search_text=p.search_text,
            )
            for i, p in enumerate(before)
        )
        session.add(
            Job(
                kind="process_document",
                payload={"document_id": str(document_id)},
                status="running",
                attempts=1,
                max_attempts=3,
                heartbeat_at=utcnow() - timedelta(hours=1),
                worker="dead-host:4242:inline",
            )
        )
        await session.commit()

    async def ready() -> bool:
        # The document turns ready before its job row is marked succeeded (two commits): wait
        # for both, or the job may still read `running` below.
        async with database() as session:
            document = await session.get(Document, document_id)
            job = (await session.scalars(select(Job))).one()
            return (
                document is not None and document.status == "ready" and job.finished_at is not None
            )

    await run_app_until(settings, ready)

    async with database() as session:
        document = await session.get(Document, document_id)
        chunks = (
            await session.scalars(
                select(DocumentChunk)
                .where(DocumentChunk.document_id == document_id)
                .order_by(DocumentChunk.ordinal)
            )
        ).all()
        job = (await session.scalars(select(Job))).one()
    assert document is not None
    assert (document.status, document.progress, document.pages_processed) == ("ready", 1.0, 4)
    assert [c.text for c in chunks] == [p.text for p in passages]  # none lost, none twice
    assert [c.ordinal for c in chunks] == list(range(len(passages)))
    assert document.chunk_count == len(passages)
    assert (job.status, job.attempts) == ("succeeded", 2)
    assert job.worker != "dead-host:4242:inline"


async def test_a_job_stopped_by_a_shutdown_is_released_and_resumed_by_the_next_start(
    inline_settings: Settings, database: async_sessionmaker[AsyncSession]
) -> None:
    settings = inline_settings
    owner_settings = settings
    from tests import factories

    owner = await factories.make_user(database, owner_settings)
    headers = owner.headers
    pdf = long_pdf()

    first = create_app(settings)
    async with first.router.lifespan_context(first):
        transport = httpx.ASGITransport(app=first)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            r = await client.post(
                "/api/documents", files={"file": ("geo.pdf", pdf)}, headers=headers
            )
            document_id = r.json()["id"]
            url = f"/api/documents/{document_id}"
            deadline = time.monotonic() + 20
            while (seen := (await client.get(url, headers=headers)).json())["pages_processed"] == 0:
                assert time.monotonic() < deadline, f"no page processed within 20 s: {seen}"
                await asyncio.sleep(0.02)
    # the app stopped mid-document: its job is back in the queue, due now, the attempt uncounted
    async with database() as session:
        job = (await session.scalars(select(Job))).one()
        document = await session.get(Document, uuid.UUID(document_id))
    assert (job.status, job.attempts, job.worker) == ("queued", 0, None)
    assert document is not None
    assert 0 < document.pages_processed < LONG_PDF_PAGES
    assert document.status == "processing"

    async def ready() -> bool:
        async with database() as session:
            found = await session.get(Document, uuid.UUID(document_id))
            job = (await session.scalars(select(Job))).one()
            return found is not None and found.status == "ready" and job.finished_at is not None

    await run_app_until(settings, ready)
    async with database() as session:
        document = await session.get(Document, uuid.UUID(document_id))
        ordinals = (
            await session.scalars(
                select(DocumentChunk.ordinal)
                .where(DocumentChunk.document_id == uuid.UUID(document_id))
                .order_by(DocumentChunk.ordinal)
            )
        ).all()
        job = (await session.scalars(select(Job))).one()
    assert document is not None
    assert (document.status, document.pages_processed) == ("ready", LONG_PDF_PAGES)
    assert list(ordinals) == list(range(document.chunk_count))
    assert (job.status, job.attempts) == ("succeeded", 1)
