"""/api/documents: upload, list, read, delete, follow processing, ask."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, cast

from fastapi import APIRouter, Path, Request, Response, status
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sse_starlette import EventSourceResponse

from agent_service.agents.dependencies import LLMDep
from agent_service.deps import CurrentUser, SessionDep, SettingsDep
from agent_service.documents import ask, service
from agent_service.documents.dependencies import OwnedDocument
from agent_service.documents.exceptions import DocumentNotReady, PageNotFound
from agent_service.documents.models import DocumentStatus
from agent_service.documents.schemas import (
    AskAnswer,
    AskRequest,
    DocumentAccepted,
    DocumentPagePublic,
    DocumentPublic,
)
from agent_service.documents.upload import receive_upload
from agent_service.jobs.dependencies import JobQueueDep
from agent_service.pagination import PAGINATED, PageDep
from agent_service.sse import sse_response
from agent_service.storage import StorageUnavailable
from agent_service.storage.dependencies import StorageDep
from agent_service.storage.jobs import discard_upload_later

router = APIRouter(prefix="/api/documents", tags=["documents"])

# The route reads the raw body itself (see upload.py), so the form is described here for /docs.
_UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            }
        },
    }
}
_SSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/event-stream": {}}, "description": "SSE when `stream` is true."}
}


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=DocumentAccepted,
    openapi_extra=_UPLOAD_BODY,
)
async def upload_document(
    request: Request,
    response: Response,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    queue: JobQueueDep,
    storage: StorageDep,
) -> DocumentAccepted:
    """Upload a PDF, text, Markdown or DOCX file (multipart `file`); it is processed in the background."""
    user_id = user.id
    await session.commit()  # no transaction held open while the body streams in
    document_id = uuid.uuid4()
    key = service.storage_key(document_id)
    try:
        upload = await receive_upload(
            request.headers.get("content-type", ""),
            request.headers.get("content-length"),
            request.stream(),
            storage=storage,
            key=key,
            max_bytes=settings.max_upload_bytes,
        )
    except StorageUnavailable:  # the store may keep parts of the upload: removed once it is back
        await queue.submit(await discard_upload_later(session, key))
        raise
    try:
        document, job = await service.create_document(
            session, settings, document_id=document_id, user_id=user_id, upload=upload
        )
        await session.commit()
    except BaseException:
        await session.rollback()
        await service.remove_file(storage, document_id)
        raise
    await queue.submit(job.id)
    response.headers["Location"] = f"/api/documents/{document.id}"
    public = DocumentPublic.model_validate(document)
    return DocumentAccepted(**public.model_dump(), document_id=document.id)


@router.get("", response_model=list[DocumentPublic], responses=PAGINATED)
async def list_documents(
    user: CurrentUser, session: SessionDep, page: PageDep, response: Response
) -> list[DocumentPublic]:
    """Your documents, newest first (paginated)."""
    items, total = await service.list_documents(
        session, user.id, limit=page.limit, offset=page.offset
    )
    page.set_headers(response, total)
    return [DocumentPublic.model_validate(d) for d in items]


@router.get("/{document_id}", response_model=DocumentPublic)
async def get_document(document: OwnedDocument) -> DocumentPublic:
    """One document: status, progress, page and chunk counts, and the error if it failed."""
    return DocumentPublic.model_validate(document)


@router.get("/{document_id}/pages/{page}", response_model=DocumentPagePublic)
async def get_document_page(
    document: OwnedDocument, page: Annotated[int, Path(ge=1, le=1_000_000)], session: SessionDep
) -> DocumentPagePublic:
    """The extracted text of one page, as passages: where a citation points."""
    passages = await service.page_passages(session, document, page)
    if not passages:
        raise PageNotFound(document.filename, page)
    return DocumentPagePublic(
        document_id=document.id,
        filename=document.filename,
        page=page,
        page_count=document.page_count,
        passages=passages,
    )


@router.delete("/{document_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_document(
    document: OwnedDocument, session: SessionDep, storage: StorageDep
) -> Response:
    """Delete a document, its index and its stored file."""
    document_id = document.id
    await service.delete_document(session, document)
    await session.commit()
    await service.remove_file(storage, document_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{document_id}/events", response_class=EventSourceResponse)
async def document_events(
    document: OwnedDocument, request: Request, session: SessionDep, settings: SettingsDep
) -> EventSourceResponse:
    """Server-sent `progress {status, progress}` events until the document is ready or failed."""
    document_id = document.id
    await session.commit()  # the stream reads with short sessions of its own
    sessionmaker = cast(async_sessionmaker[AsyncSession], request.app.state.sessionmaker)
    return sse_response(
        service.watch_progress(sessionmaker, document_id), heartbeat_s=settings.sse_heartbeat_s
    )


@router.post("/{document_id}/ask", response_model=AskAnswer, responses=_SSE)
async def ask_document(
    body: AskRequest,
    document: OwnedDocument,
    session: SessionDep,
    settings: SettingsDep,
    llm: LLMDep,
) -> AskAnswer | EventSourceResponse:
    """Ask a ready document: SSE `message.delta`s then `message.completed` with citations."""
    if document.status != DocumentStatus.READY:
        raise DocumentNotReady(
            document.filename, document.status, document.progress, document.error
        )
    llm.require_configured()
    passages = await ask.retrieve(session, settings, llm, document, body.question, top_k=body.top_k)
    await session.commit()  # nothing held open while the model answers
    messages = ask.build_messages(document.filename, body.question, passages)
    if not body.stream:
        completion = await llm.complete(messages)
        return ask.answer_of(completion, document.id, passages, body.question)
    events = ask.stream_answer(llm, messages, document.id, passages, body.question)
    return sse_response(events, heartbeat_s=settings.sse_heartbeat_s)
