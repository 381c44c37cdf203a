"""Document rules: owner-only access, the key of each stored file, and the job that processes it."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncGenerator, Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent_service.documents import retrieval
from agent_service.documents.exceptions import ChunkNotFound, DocumentNotFound
from agent_service.documents.models import Document, DocumentChunk, DocumentStatus
from agent_service.documents.schemas import ChunkPublic, PagePassage, PassageHit, ProgressEvent
from agent_service.documents.upload import ReceivedUpload
from agent_service.jobs import service as jobs
from agent_service.jobs.models import Job
from agent_service.settings import Settings
from agent_service.storage import ObjectStorage

PROCESS_DOCUMENT_KIND = "process_document"
PROGRESS_POLL_S = 0.25


def storage_key(document_id: uuid.UUID) -> str:
    """A stored file is named by its document's id: the client's filename never reaches storage."""
    return f"documents/{document_id.hex}"


async def create_document(
    session: AsyncSession,
    settings: Settings,
    *,
    document_id: uuid.UUID,
    user_id: uuid.UUID,
    upload: ReceivedUpload,
) -> tuple[Document, Job]:
    """The document row and its processing job, in one transaction (the file is already stored
    under `storage_key(document_id)`).

    The caller commits, then submits the job; if anything fails it calls `remove_file`.
    """
    document = Document(
        id=document_id,
        user_id=user_id,
        filename=upload.filename,
        content_type=upload.kind.value,
        size_bytes=upload.size,
        sha256=upload.sha256,
    )
    session.add(document)
    await session.flush()
    job = await jobs.enqueue_job(
        session,
        PROCESS_DOCUMENT_KIND,
        {"document_id": str(document.id)},
        max_attempts=settings.job_max_attempts,
    )
    return document, job


async def file_keys_of_user(session: AsyncSession, user_id: uuid.UUID) -> list[str]:
    """The storage keys of a user's files: read before the user is deleted (its rows go with
    it), removed with `remove_files` after the commit."""
    ids = await session.scalars(select(Document.id).where(Document.user_id == user_id))
    return [storage_key(document_id) for document_id in ids]


async def remove_files(storage: ObjectStorage, keys: Sequence[str]) -> None:
    for key in keys:
        await storage.delete(key)


async def remove_file(storage: ObjectStorage, document_id: uuid.UUID) -> None:
    """Delete a document's stored file (after its row is gone, or when its row never was)."""
    await storage.delete(storage_key(document_id))


async def get_document(
    session: AsyncSession, user_id: uuid.UUID, document_id: uuid.UUID
) -> Document:
    """The user's document, or 404 (also for another user's: we do not say it exists)."""
    document = await session.get(Document, document_id, populate_existing=True)
    if document is None or document.user_id != user_id:
        raise DocumentNotFound(document_id)
    return document


async def list_documents(
    session: AsyncSession, user_id: uuid.UUID, *, limit: int, offset: int
) -> tuple[Sequence[Document], int]:
    owned = Document.user_id == user_id
    total = await session.scalar(select(func.count()).select_from(Document).where(owned)) or 0
    result = await session.execute(
        select(Document)
        .where(owned)
        .order_by(Document.created_at.desc(), Document.id)
        .limit(limit)
        .offset(offset)
    )
    return result.scalars().all(), total


async def delete_document(session: AsyncSession, document: Document) -> None:
    """Delete the row (its chunks and their index entries go with it); the file after commit."""
    await session.delete(document)
    await session.flush()


async def search_documents(
    session: AsyncSession,
    user_id: uuid.UUID,
    query: str,
    *,
    document_id: uuid.UUID | None = None,
    limit: int = 5,
) -> list[PassageHit]:
    """Full-text search over the user's ready documents (or one of them, 404 if not theirs)."""
    if document_id is not None:
        await get_document(session, user_id, document_id)
    passages = await retrieval.search_passages(
        session, query, user_id=user_id, document_id=document_id, limit=limit
    )
    names = await _filenames(session, {p.document_id for p in passages})
    return [
        PassageHit(
            chunk_id=p.chunk_id,
            document_id=p.document_id,
            filename=names[p.document_id],
            page=p.page,
            excerpt=retrieval.excerpt(p.text, query),
        )
        for p in passages
    ]


async def read_chunk(session: AsyncSession, user_id: uuid.UUID, chunk_id: uuid.UUID) -> ChunkPublic:
    """A passage of one of the user's ready documents, or `ChunkNotFound`."""
    row = (
        await session.execute(
            select(DocumentChunk, Document.filename)
            .join(Document, Document.id == DocumentChunk.document_id)
            .where(
                DocumentChunk.id == chunk_id,
                Document.user_id == user_id,
                Document.status == DocumentStatus.READY,
            )
        )
    ).one_or_none()
    if row is None:
        raise ChunkNotFound(chunk_id)
    chunk, filename = row
    rows = await session.execute(
        select(DocumentChunk.ordinal, DocumentChunk.id).where(
            DocumentChunk.document_id == chunk.document_id,
            DocumentChunk.ordinal.in_((chunk.ordinal - 1, chunk.ordinal + 1)),
        )
    )
    neighbours = {ordinal: neighbour_id for ordinal, neighbour_id in rows}
    return ChunkPublic(
        chunk_id=chunk.id,
        document_id=chunk.document_id,
        filename=filename,
        page=chunk.page,
        text=chunk.text,
        previous_chunk_id=neighbours.get(chunk.ordinal - 1),
        next_chunk_id=neighbours.get(chunk.ordinal + 1),
    )


async def page_passages(session: AsyncSession, document: Document, page: int) -> list[PagePassage]:
    """The passages of one page of a document, in order."""
    rows = await session.execute(
        select(DocumentChunk)
        .where(DocumentChunk.document_id == document.id, DocumentChunk.page == page)
        .order_by(DocumentChunk.ordinal)
    )
    return [PagePassage(chunk_id=c.id, text=c.text) for c in rows.scalars()]


async def _filenames(session: AsyncSession, ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    if not ids:
        return {}
    rows = await session.execute(select(Document.id, Document.filename).where(Document.id.in_(ids)))
    return {document_id: filename for document_id, filename in rows}


def progress_of(document: Document) -> ProgressEvent:
    return ProgressEvent(
        status=document.status,
        progress=document.progress,
        page_count=document.page_count,
        pages_processed=document.pages_processed,
        chunk_count=document.chunk_count,
        error=document.error,
    )


async def watch_progress(
    sessionmaker: async_sessionmaker[AsyncSession],
    document_id: uuid.UUID,
    *,
    poll_s: float = PROGRESS_POLL_S,
) -> AsyncGenerator[tuple[str, ProgressEvent], None]:
    """`progress` events: the current state, then each change, until ready or failed.

    It reads the database, not process memory, so it follows a job run by any worker anywhere.
    """
    last: ProgressEvent | None = None
    while True:
        async with sessionmaker() as session:
            document = await session.get(Document, document_id)
        if document is None:
            raise DocumentNotFound(document_id)  # deleted while watched
        event = progress_of(document)
        if event != last:
            yield "progress", event
            last = event
        if document.status != DocumentStatus.PROCESSING:
            return
        await asyncio.sleep(poll_s)
