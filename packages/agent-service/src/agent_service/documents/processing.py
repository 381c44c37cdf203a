"""The `process_document` job: extract page by page, chunk, index, and report progress.

Pages are stored in batches, each batch's chunks committed with the document's progress, so the
progress a client sees is what is really searchable, and an attempt cut short resumes after the
last stored page instead of starting over (a half-stored page is dropped and redone).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import anyio.to_thread
from sqlalchemy import delete, insert

from agent_service.db import utcnow
from agent_service.documents import service
from agent_service.documents.chunking import chunk_text
from agent_service.documents.embeddings import Embedder, embedder_for, pack
from agent_service.documents.extract import DocumentUnreadable, Source, no_text, open_source
from agent_service.documents.models import Document, DocumentChunk, DocumentStatus
from agent_service.documents.sniff import DocumentKind
from agent_service.documents.textsearch import search_form
from agent_service.jobs.exceptions import JobInterrupted
from agent_service.jobs.registry import JobContext, JobHandler, Payload
from agent_service.storage import ObjectNotFound, build_storage

BATCH_MAX_PAGES = 16
BATCH_MAX_SECONDS = 0.5


@dataclass(frozen=True)
class Passage:
    page: int
    text: str
    search_text: str


def page_passages(source: Source, index: int) -> list[Passage]:
    """The chunks of one page, folded for search (blocking: pypdf and pure-Python folding)."""
    return [
        Passage(index + 1, passage, search_form(passage))
        for passage in chunk_text(source.page_text(index))
    ]


def read_batch(source: Source, first: int) -> tuple[list[Passage], int]:
    """Pages from `first` on, until 16 pages or half a second: one thread hop, one commit."""
    started = time.monotonic()
    passages: list[Passage] = []
    index = first
    while index < source.page_count:
        passages.extend(page_passages(source, index))
        index += 1
        if index - first >= BATCH_MAX_PAGES:
            break
        if time.monotonic() - started >= BATCH_MAX_SECONDS:
            break
    return passages, index


async def process_document(context: JobContext, payload: Payload) -> None:
    document_id = uuid.UUID(payload["document_id"])
    try:
        await _process(context, document_id)
    except Exception:
        if await _still_processing(context, document_id):
            raise
        # deleted while we worked (its file too, maybe): there is nothing left to fail


async def _still_processing(context: JobContext, document_id: uuid.UUID) -> bool:
    async with context.sessionmaker() as session:
        document = await session.get(Document, document_id)
        return document is not None and document.status == DocumentStatus.PROCESSING


async def _process(context: JobContext, document_id: uuid.UUID) -> None:
    resume = await _prepare(context, document_id)
    if resume is None:
        return  # deleted, or already finished by an earlier attempt
    kind, start_page, ordinal = resume
    storage = build_storage(context.settings)
    try:
        async with storage.local_copy(service.storage_key(document_id)) as path:
            source = await anyio.to_thread.run_sync(open_source, path, kind)
            await _index(context, document_id, source, start_page, ordinal)
    except ObjectNotFound as exc:
        raise DocumentUnreadable("The uploaded file is missing from storage.") from exc


async def _index(
    context: JobContext, document_id: uuid.UUID, source: Source, page: int, ordinal: int
) -> None:
    """Store the pages from `page` on, batch by batch, then mark the document ready."""
    embedder = embedder_for(context.settings, context.llm)
    while page < source.page_count:
        if context.stopping.is_set():  # between batches: the pages so far are stored
            raise JobInterrupted(f"stopped before page {page + 1} of {source.page_count}")
        batch, page_after = await anyio.to_thread.run_sync(read_batch, source, page)
        stored = await _store(
            context, document_id, batch, ordinal, page_after, source.page_count, embedder
        )
        if not stored:
            return
        ordinal += len(batch)
        page = page_after
    await _finish(context, document_id, source.page_count)


async def _prepare(
    context: JobContext, document_id: uuid.UUID
) -> tuple[DocumentKind, int, int] | None:
    """Where to (re)start: the kind, the first page not stored, the next chunk ordinal."""
    async with context.sessionmaker() as session:
        document = await session.get(Document, document_id)
        if document is None or document.status != DocumentStatus.PROCESSING:
            return None
        done = document.pages_processed
        await session.execute(
            delete(DocumentChunk).where(
                DocumentChunk.document_id == document_id, DocumentChunk.page > done
            )
        )
        await session.commit()
        return DocumentKind(document.content_type), done, document.chunk_count


async def _store(
    context: JobContext,
    document_id: uuid.UUID,
    batch: list[Passage],
    ordinal: int,
    pages_done: int,
    page_count: int,
    embedder: Embedder | None,
) -> bool:
    """Commit a batch of chunks with the progress they make; False when the document is gone."""
    vectors = await embedder.embed([p.text for p in batch]) if embedder and batch else None
    async with context.sessionmaker() as session:
        document = await session.get(Document, document_id, with_for_update=True)
        if document is None or document.status != DocumentStatus.PROCESSING:
            return False
        if batch:
            # one single-row INSERT run for every chunk (executemany), not the ORM's
            # multi-row INSERT ... RETURNING: its text differs with each batch's size, and
            # SQLite keeps every text it prepared (up to 100 per connection, ~1 MB each
            # at this size): that was 100 MB of a 45 MB text file's processing.
            await session.execute(
                insert(DocumentChunk),
                [
                    {
                        "document_id": document_id,
                        "ordinal": ordinal + i,
                        "page": passage.page,
                        "text": passage.text,
                        "search_text": passage.search_text,
                        "embedding": pack(vectors[i]) if vectors else None,
                    }
                    for i, passage in enumerate(batch)
                ],
            )
        document.page_count = page_count
        document.pages_processed = pages_done
        document.chunk_count = ordinal + len(batch)
        document.progress = pages_done / page_count
        await session.commit()
    return True


async def _finish(context: JobContext, document_id: uuid.UUID, page_count: int) -> None:
    """Ready, once every page is stored (so its progress, pages stored / pages, is 1.0 already)."""
    async with context.sessionmaker() as session:
        document = await session.get(Document, document_id, with_for_update=True)
        if document is None or document.status != DocumentStatus.PROCESSING:
            return
        if document.chunk_count == 0:
            raise no_text(DocumentKind(document.content_type), page_count)
        document.status = DocumentStatus.READY
        document.processed_at = utcnow()
        await session.commit()


async def mark_document_failed(context: JobContext, payload: Payload, error: str) -> None:
    """The job gave up: the document says why, and keeps no half-built index."""
    document_id = uuid.UUID(payload["document_id"])
    async with context.sessionmaker() as session:
        document = await session.get(Document, document_id, with_for_update=True)
        if document is None or document.status != DocumentStatus.PROCESSING:
            return
        await session.execute(delete(DocumentChunk).where(DocumentChunk.document_id == document_id))
        document.status = DocumentStatus.FAILED
        document.error = error
        document.chunk_count = 0
        await session.commit()


PROCESS_DOCUMENT = JobHandler(
    service.PROCESS_DOCUMENT_KIND, run=process_document, on_failure=mark_document_failed
)
