"""Document schemas: the upload receipt, the document, progress events, questions and answers."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from agent_service.conversations.schemas import UsagePublic
from agent_service.text import NON_BLANK

MAX_QUESTION_CHARS = 4000


class DocumentPublic(BaseModel):
    """A document and how far its processing got: `progress` is the share of pages indexed."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    filename: str
    content_type: str
    size_bytes: int
    sha256: str
    status: str = Field(description="processing, ready or failed")
    progress: float = Field(ge=0, le=1)
    page_count: int | None
    pages_processed: int
    chunk_count: int
    error: str | None = Field(description="Why processing failed, for a person.")
    created_at: datetime
    updated_at: datetime
    processed_at: datetime | None


class DocumentAccepted(DocumentPublic):
    """202: the upload is stored and queued for processing."""

    document_id: uuid.UUID


class ProgressEvent(BaseModel):
    """The `progress` SSE event; the stream ends after `ready` or `failed`."""

    status: str
    progress: float
    page_count: int | None = None
    pages_processed: int = 0
    chunk_count: int = 0
    error: str | None = None


def _not_blank(text: str) -> str:
    if not text.strip():
        raise ValueError("must contain some text")
    return text


class AskRequest(BaseModel):
    question: Annotated[
        str,
        Field(min_length=1, max_length=MAX_QUESTION_CHARS),
        AfterValidator(_not_blank),
        NON_BLANK,
    ]
    stream: bool = Field(default=True, description="SSE when true (default), JSON when false.")
    top_k: int = Field(default=5, ge=1, le=20, description="How many passages to give the model.")


class Citation(BaseModel):
    chunk_id: uuid.UUID
    page: int
    excerpt: str


class PagePassage(BaseModel):
    chunk_id: uuid.UUID
    text: str


class DocumentPagePublic(BaseModel):
    """The extracted text of one page, as its passages (a citation links here)."""

    document_id: uuid.UUID
    filename: str
    page: int
    page_count: int | None
    passages: list[PagePassage]


class AskAnswer(BaseModel):
    """The answer, and the passages it rests on (those it cites as [n], else all it was given)."""

    response: str
    document_id: uuid.UUID
    citations: list[Citation]
    usage: UsagePublic


class AnswerDeltaEvent(BaseModel):
    delta: str


class PassageHit(BaseModel):
    """A search result: where a matching passage is, and a window of it."""

    chunk_id: uuid.UUID
    document_id: uuid.UUID
    filename: str
    page: int
    excerpt: str


class ChunkPublic(BaseModel):
    """One passage in full, with its neighbours' ids for reading on."""

    chunk_id: uuid.UUID
    document_id: uuid.UUID
    filename: str
    page: int
    text: str
    previous_chunk_id: uuid.UUID | None
    next_chunk_id: uuid.UUID | None
