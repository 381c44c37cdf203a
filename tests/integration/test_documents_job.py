"""The `process_document` job run by hand, on a document row and a stored file the test made: its
batches, a stop between two of them, a document deleted or failed meanwhile, a missing file, the
final failure. Real database and storage; the job's stop signal is the one seam, a test double
that trips at a chosen batch (the runner sets the real one when it shuts down).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import create_engine, delete, func, select, update
from sqlalchemy.engine import make_url

from agent_service.documents import service as documents
from agent_service.documents.extract import DocumentUnreadable, open_source
from agent_service.documents.models import Document, DocumentChunk, DocumentStatus
from agent_service.documents.processing import (
    BATCH_MAX_PAGES,
    Passage,
    mark_document_failed,
    page_passages,
    process_document,
    read_batch,
)
from agent_service.documents.sniff import DocumentKind
from agent_service.jobs.exceptions import JobInterrupted
from agent_service.jobs.registry import JobContext
from agent_service.settings import Settings
from agent_testkit import FakeLLM
from tests.conftest import use_fake_llm
from tests.factories import TestUser

PAGES = 40  # more than two batches of BATCH_MAX_PAGES
SECTION = 64 * 1024  # a text file's page


def text_file(pages: int = PAGES) -> bytes:
    """`pages` sections of distinct lines, each page's words its own (`page7 line3 ...`)."""
    out = bytearray()
    for page in range(pages):
        line = 0
        start = len(out)
        while len(out) - start < SECTION - 200:
            out += f"page{page} line{line} words about section {page} of the notes.\n".encode()
            line += 1
        out += b"x" * (SECTION - (len(out) - start) - 1) + b"\n"
    return bytes(out)


@dataclass
class Stored:
    document_id: uuid.UUID
    path: Path  # a local copy of the file, to compute what the index should hold

    @property
    def payload(self) -> dict[str, str]:
        return {"document_id": str(self.document_id)}

    def passages(self) -> list[Passage]:
        source = open_source(self.path, DocumentKind.TEXT)
        return [p for index in range(source.page_count) for p in page_passages(source, index)]


MakeStored = Callable[..., Awaitable[Stored]]


@pytest.fixture
async def stored(app: FastAPI, user: TestUser, tmp_path: Path) -> MakeStored:
    """A document row (`processing` unless told) and its file in the app's storage, no job."""

    async def make(
        content: bytes | None = None, *, status: str = DocumentStatus.PROCESSING, file: bool = True
    ) -> Stored:
        content = text_file() if content is None else content
        document_id = uuid.uuid4()
        path = tmp_path / f"{document_id.hex}.txt"
        path.write_bytes(content)
        if file:

            async def chunks() -> AsyncIterator[bytes]:
                yield content

            await app.state.storage.put(documents.storage_key(document_id), chunks())
        async with app.state.sessionmaker() as session:
            session.add(
                Document(
                    id=document_id,
                    user_id=user.id,
                    filename="notes.txt",
                    content_type=DocumentKind.TEXT.value,
                    size_bytes=len(content),
                    sha256="0" * 64,
                    status=status,
                )
            )
            await session.commit()
        return Stored(document_id, path)

    return make


class StopSignal(asyncio.Event):
    """The runner's stop signal, checked by the job before each batch: counts the checks, and at
    check number `at` runs `then()` (if given) and reads as set when `stop` is true. More checks
    than pages is a job that does not end (each batch takes a page at least): it fails at once."""

    def __init__(self, at: int = 0, *, stop: bool = True, then: Callable[[], None] | None = None):
        super().__init__()
        self.checks = 0
        self.at = at
        self.stop = stop
        self.then = then

    def is_set(self) -> bool:
        self.checks += 1
        assert self.checks <= PAGES, "the job went on past its last page"
        if self.checks == self.at:
            if self.then is not None:
                self.then()
            return self.stop
        return super().is_set()


def job_context(app: FastAPI, stopping: asyncio.Event | None = None) -> JobContext:
    return JobContext(
        app.state.settings, app.state.sessionmaker, app.state.llm, stopping or StopSignal()
    )


async def document_of(app: FastAPI, document_id: uuid.UUID) -> Document | None:
    async with app.state.sessionmaker() as session:
        return await session.get(Document, document_id)


async def chunks_of(app: FastAPI, document_id: uuid.UUID) -> list[DocumentChunk]:
    async with app.state.sessionmaker() as session:
        found = await session.scalars(
            select(DocumentChunk)
            .where(DocumentChunk.document_id == document_id)
            .order_by(DocumentChunk.ordinal)
        )
        return list(found)


def sync_url(settings: Settings) -> str:
    """The test database for a blocking connection (the stop signal's `then` is synchronous)."""
    url = make_url(settings.resolved_database_url)
    driver = "sqlite" if url.get_backend_name() == "sqlite" else "postgresql+psycopg"
    return url.set(drivername=driver).render_as_string(hide_password=False)


def change_document(settings: Settings, document_id: uuid.UUID, *, status: str | None) -> None:
    """Delete the document (`status=None`) or set its status, from another connection, now."""
    engine = create_engine(sync_url(settings))
    try:
        with engine.begin() as connection:
            if status is None:
                connection.execute(
                    delete(DocumentChunk).where(DocumentChunk.document_id == document_id)
                )
                connection.execute(delete(Document).where(Document.id == document_id))
            else:
                connection.execute(
                    update(Document).where(Document.id == document_id).values(status=status)
                )
    finally:
        engine.dispose()


async def test_a_document_is_indexed_batch_by_batch_and_becomes_ready(
    app: FastAPI, stored: MakeStored
) -> None:
    document = await stored()
    stopping = StopSignal()

    await process_document(job_context(app, stopping), document.payload)

    found = await document_of(app, document.document_id)
    chunks = await chunks_of(app, document.document_id)
    expected = document.passages()
    assert found is not None
    assert (found.status, found.progress, found.error) == ("ready", 1.0, None)
    assert (found.page_count, found.pages_processed) == (PAGES, PAGES)
    assert found.processed_at is not None
    assert found.chunk_count == len(chunks) == len(expected)
    assert [(c.page, c.text, c.search_text) for c in chunks] == [
        (p.page, p.text, p.search_text) for p in expected
    ]
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    assert {c.page for c in chunks} == set(range(1, PAGES + 1))
    assert all(c.embedding is None for c in chunks)  # no EMBEDDING_MODEL: full-text search only
    assert stopping.checks >= -(-PAGES // BATCH_MAX_PAGES)  # once before each batch


def test_a_batch_ends_after_sixteen_pages() -> None:
    class InstantPages:
        page_count = 40

        def page_text(self, index: int) -> str:
            return f"Page {index} says hello."

    passages, after = read_batch(InstantPages(), 0)
    assert after == BATCH_MAX_PAGES == 16
    assert [p.page for p in passages] == list(range(1, 17))
    assert passages[0] == Passage(1, "Page 0 says hello.", "page 0 says hello")
    assert read_batch(InstantPages(), 32)[1] == 40  # the last batch ends with the pages
    assert [p.page for p in read_batch(InstantPages(), 39)[0]] == [40]


async def test_a_stop_between_batches_keeps_the_pages_stored_and_a_rerun_resumes_after_them(
    app: FastAPI, stored: MakeStored
) -> None:
    document = await stored()

    with pytest.raises(JobInterrupted) as stopped:
        await process_document(job_context(app, StopSignal(at=2)), document.payload)

    half = await document_of(app, document.document_id)
    assert half is not None and half.status == "processing"
    done = half.pages_processed
    assert 0 < done < PAGES
    assert str(stopped.value) == f"stopped before page {done + 1} of {PAGES}"
    assert half.page_count == PAGES
    assert half.progress == pytest.approx(done / PAGES)
    chunks = await chunks_of(app, document.document_id)
    assert half.chunk_count == len(chunks)
    assert max(c.page for c in chunks) == done

    # an attempt cut short while storing the next page left part of it: dropped and redone
    async with app.state.sessionmaker() as session:
        session.add(
            DocumentChunk(
                document_id=document.document_id,
                ordinal=half.chunk_count,
                page=done + 1,
                text="half of a page",
                search_text="half of a page",
            )
        )
        await session.commit()

    await process_document(job_context(app), document.payload)

    found = await document_of(app, document.document_id)
    chunks = await chunks_of(app, document.document_id)
    expected = document.passages()
    assert found is not None and found.status == "ready"
    assert [c.text for c in chunks] == [p.text for p in expected]  # none lost, none twice
    assert [c.ordinal for c in chunks] == list(range(len(expected)))
    assert found.chunk_count == len(expected)


async def test_a_stop_before_the_first_page_stores_nothing(
    app: FastAPI, stored: MakeStored
) -> None:
    document = await stored()

    with pytest.raises(JobInterrupted, match=f"^stopped before page 1 of {PAGES}$"):
        await process_document(job_context(app, StopSignal(at=1)), document.payload)

    found = await document_of(app, document.document_id)
    assert found is not None
    assert (found.status, found.pages_processed, found.chunk_count) == ("processing", 0, 0)
    assert await chunks_of(app, document.document_id) == []


async def test_a_document_deleted_between_batches_ends_the_job_quietly(
    app: FastAPI, stored: MakeStored, settings: Settings
) -> None:
    document = await stored()
    stopping = StopSignal(
        at=2,
        stop=False,
        then=lambda: change_document(settings, document.document_id, status=None),
    )

    await process_document(job_context(app, stopping), document.payload)

    assert await document_of(app, document.document_id) is None
    assert await chunks_of(app, document.document_id) == []
    assert stopping.checks == 2  # the batch read after the deletion was the last


async def test_a_document_that_failed_elsewhere_meanwhile_gets_no_more_chunks(
    app: FastAPI, stored: MakeStored, settings: Settings
) -> None:
    document = await stored()
    stopping = StopSignal(
        at=2,
        stop=False,
        then=lambda: change_document(settings, document.document_id, status="failed"),
    )

    await process_document(job_context(app, stopping), document.payload)

    found = await document_of(app, document.document_id)
    assert found is not None and found.status == "failed"
    chunks = await chunks_of(app, document.document_id)
    assert found.chunk_count == len(chunks) > 0  # the first batch, and no more
    assert max(c.page for c in chunks) == found.pages_processed < PAGES
    assert stopping.checks == 2


async def test_a_document_failed_elsewhere_once_its_pages_are_stored_is_not_made_ready(
    app: FastAPI, stored: MakeStored, settings: Settings
) -> None:
    """Another writer (a later attempt's final failure) fails the document between the commit of
    its last page and the job's last step: the job's database, wrapped to do that as soon as it
    sees every page stored, when the job opens its next session."""
    document = await stored(text_file(2))
    real = app.state.sessionmaker

    def sessionmaker() -> Any:
        engine = create_engine(sync_url(settings))
        try:
            with engine.connect() as connection:
                done, pages = connection.execute(
                    select(Document.pages_processed, Document.page_count).where(
                        Document.id == document.document_id
                    )
                ).one()
        finally:
            engine.dispose()
        if done == pages:
            change_document(settings, document.document_id, status="failed")
        return real()

    context = JobContext(settings, sessionmaker, app.state.llm, StopSignal())  # type: ignore[arg-type]
    await process_document(context, document.payload)

    found = await document_of(app, document.document_id)
    assert found is not None
    assert (found.status, found.pages_processed, found.processed_at) == ("failed", 2, None)


async def test_a_stop_after_the_document_was_deleted_ends_the_job_quietly(
    app: FastAPI, stored: MakeStored, settings: Settings
) -> None:
    """Whatever the job raises once its document is gone is nobody's failure."""
    document = await stored()
    stopping = StopSignal(
        at=2, then=lambda: change_document(settings, document.document_id, status=None)
    )

    await process_document(job_context(app, stopping), document.payload)

    assert await document_of(app, document.document_id) is None


async def test_a_file_missing_from_storage_fails_the_job_readably(
    app: FastAPI, stored: MakeStored
) -> None:
    document = await stored(file=False)

    with pytest.raises(DocumentUnreadable) as failed:
        await process_document(job_context(app), document.payload)

    assert str(failed.value) == "The uploaded file is missing from storage."

    found = await document_of(app, document.document_id)
    assert found is not None and found.status == "processing"  # the job's failure marks it


@pytest.mark.parametrize("status", ["ready", "failed"])
async def test_a_finished_document_is_left_as_it_is(
    app: FastAPI, stored: MakeStored, status: str
) -> None:
    """A job run again after its document was finished (the file may be gone: not read)."""
    document = await stored(status=status, file=False)
    async with app.state.sessionmaker() as session:
        session.add(
            DocumentChunk(
                document_id=document.document_id,
                ordinal=0,
                page=3,
                text="kept",
                search_text="kept",
            )
        )
        await session.commit()

    await process_document(job_context(app), document.payload)

    found = await document_of(app, document.document_id)
    assert found is not None
    assert (found.status, found.pages_processed, found.progress) == (status, 0, 0.0)
    assert [c.text for c in await chunks_of(app, document.document_id)] == ["kept"]


async def test_a_job_for_a_deleted_document_does_nothing(app: FastAPI) -> None:
    await process_document(job_context(app), {"document_id": str(uuid.uuid4())})


async def test_a_document_without_text_fails_with_the_reason(
    app: FastAPI, stored: MakeStored
) -> None:
    document = await stored(b"\n" * 10)

    with pytest.raises(DocumentUnreadable) as failed:
        await process_document(job_context(app), document.payload)

    assert str(failed.value) == "The file has no text to index."


async def test_the_final_failure_marks_the_document_and_drops_its_chunks(
    app: FastAPI, stored: MakeStored
) -> None:
    document = await stored()
    with pytest.raises(JobInterrupted):
        await process_document(job_context(app, StopSignal(at=2)), document.payload)
    assert await chunks_of(app, document.document_id) != []

    await mark_document_failed(job_context(app), document.payload, "Gave up: the reason.")

    found = await document_of(app, document.document_id)
    assert found is not None
    assert (found.status, found.error, found.chunk_count) == ("failed", "Gave up: the reason.", 0)
    assert await chunks_of(app, document.document_id) == []


@pytest.mark.parametrize("status", ["ready", "failed"])
async def test_the_final_failure_of_a_finished_document_changes_nothing(
    app: FastAPI, stored: MakeStored, status: str
) -> None:
    document = await stored(text_file(2))
    await process_document(job_context(app), document.payload)
    async with app.state.sessionmaker() as session:
        await session.execute(
            update(Document).where(Document.id == document.document_id).values(status=status)
        )
        await session.commit()
    before = await chunks_of(app, document.document_id)

    await mark_document_failed(job_context(app), document.payload, "a late failure")

    found = await document_of(app, document.document_id)
    assert found is not None
    assert (found.status, found.error, found.chunk_count) == (status, None, len(before))
    assert len(await chunks_of(app, document.document_id)) == len(before) > 0


async def test_the_final_failure_of_a_deleted_document_is_nothing(app: FastAPI) -> None:
    await mark_document_failed(job_context(app), {"document_id": str(uuid.uuid4())}, "late")
    async with app.state.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Document)) == 0


class TestWithEmbeddings:
    @pytest.fixture
    def settings(self, settings: Settings, fake_llm: FakeLLM) -> Settings:
        use_fake_llm(settings, fake_llm.base_url)
        settings.embedding_model = "fake-embedding"
        return settings

    async def test_each_chunk_is_stored_with_its_vector(
        self, app: FastAPI, stored: MakeStored, fake_llm: FakeLLM
    ) -> None:
        document = await stored(text_file(3))

        await process_document(job_context(app), document.payload)

        chunks = await chunks_of(app, document.document_id)
        embedded = [text for call in fake_llm.embedding_calls for text in call["input"]]
        assert embedded == [c.text for c in chunks]
        dimensions = fake_llm.embedding_dimensions
        assert all(c.embedding is not None and len(c.embedding) == 4 * dimensions for c in chunks)
        assert len({c.embedding for c in chunks}) == len(chunks)  # each its own vector
