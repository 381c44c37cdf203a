"""The `conversation` and `message` tables.

Messages are ordered by `position`, unique per conversation: timestamps can tie, and two turns
racing on one conversation must not interleave silently (the second one's insert fails instead).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from agent_service.db import Base, IdMixin, TimestampMixin, UTCDateTime, utcnow


class Conversation(IdMixin, TimestampMixin, Base):
    __tablename__ = "conversation"
    __table_args__ = (
        Index("ix_conversation_user_id_updated_at", "user_id", "updated_at"),
        UniqueConstraint("user_id", "session_key"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    agent_type: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200), default="")
    # The next message's position: no MAX() query per append, and a stale count (a turn racing on
    # the same conversation) collides on the unique (conversation_id, position).
    message_count: Mapped[int] = mapped_column(default=0, server_default="0")
    # The client's own name for the conversation (a chat body's `session_id`), unique per user.
    session_key: Mapped[str | None] = mapped_column(String(200), default=None)


class Message(IdMixin, Base):
    __tablename__ = "message"
    __table_args__ = (UniqueConstraint("conversation_id", "position"),)

    conversation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("conversation.id", ondelete="CASCADE")
    )
    position: Mapped[int]
    role: Mapped[str] = mapped_column(String(16))
    content: Mapped[str | None] = mapped_column(Text, default=None)
    # Assistant messages: [{"id", "name", "arguments"}] with arguments as the model's JSON text.
    tool_calls: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, default=None)
    # Tool messages: which call they answer, that call's tool, and whether the tool failed.
    tool_call_id: Mapped[str | None] = mapped_column(String(128), default=None)
    tool_name: Mapped[str | None] = mapped_column(String(128), default=None)
    is_error: Mapped[bool] = mapped_column(default=False)
    # Assistant messages: the usage of the model call that produced them.
    prompt_tokens: Mapped[int | None] = mapped_column(default=None)
    completion_tokens: Mapped[int | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
