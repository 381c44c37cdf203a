"""The `idempotency_key` table: one row per (user, key), inserted before the work starts.

The unique constraint is the lock: of two concurrent requests with one key, the second insert
fails and that request waits for the first one's stored response instead of doing the work.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from agent_service.db import Base, IdMixin, UTCDateTime


class IdempotencyKey(IdMixin, Base):
    __tablename__ = "idempotency_key"
    __table_args__ = (
        UniqueConstraint("user_id", "key", name="uq_idempotency_key_user_id_key"),
        Index("ix_idempotency_key_expires_at", "expires_at"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(255))
    # SHA-256 of method, path and body; set when the first request's body has been read.
    request_hash: Mapped[str | None] = mapped_column(String(64), default=None)
    # Null while the first request is in progress; then its status and what to replay.
    response_status: Mapped[int | None] = mapped_column(default=None)
    response_headers: Mapped[list[list[str]] | None] = mapped_column(JSON, default=None)
    response_body: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    # A streamed reply is replayed from its run's stored events, not from bytes.
    run_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)

    @property
    def completed(self) -> bool:
        return self.response_status is not None

    def replay_headers(self) -> list[tuple[bytes, bytes]]:
        stored: Any = self.response_headers or []
        return [(name.encode("latin-1"), value.encode("latin-1")) for name, value in stored]
