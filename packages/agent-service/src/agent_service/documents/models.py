"""The `document` and `document_chunk` tables.

Full-text search lives beside them, per dialect, in the migration: an FTS5 table kept in step by
triggers on SQLite, a GIN index over `to_tsvector('simple', search_text)` on PostgreSQL.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, ForeignKey, Index, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from agent_service.db import Base, IdMixin, TimestampMixin, UTCDateTime


class DocumentStatus(StrEnum):
    PROCESSING = "processing"
    READY = "ready"
    FAILED = "failed"


class Document(IdMixin, TimestampMixin, Base):
    __tablename__ = "document"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("user.id", ondelete="CASCADE"), index=True
    )
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default=DocumentStatus.PROCESSING)
    progress: Mapped[float] = mapped_column(default=0.0)
    page_count: Mapped[int | None] = mapped_column(default=None)
    pages_processed: Mapped[int] = mapped_column(default=0)
    chunk_count: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class DocumentChunk(IdMixin, Base):
    __tablename__ = "document_chunk"
    __table_args__ = (Index("ix_document_chunk_document_id_ordinal", "document_id", "ordinal"),)

    document_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("document.id", ondelete="CASCADE"))
    ordinal: Mapped[int]  # position in the document
    page: Mapped[int]  # 1-based; a text file's pages are its 64 KiB sections
    text: Mapped[str] = mapped_column(Text)
    # `text` folded for search: case, diacritics and compatibility forms removed, CJK and Thai
    # split into characters (see `textsearch.search_form`); what both FTS engines index.
    search_text: Mapped[str] = mapped_column(Text)
    # float32 little-endian, when EMBEDDING_MODEL is set
    embedding: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
