"""The `run` and `run_event` tables: a chat turn and everything it streamed, as rows.

The rows are the source of truth for every follower on every replica: a stream is a replay of
`run_event` in `seq` order, woken early by a notification but never relying on one.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from agent_service.db import Base, IdMixin, UTCDateTime, utcnow

ACTIVE_STATUSES = ("queued", "running", "requires_action")
FINAL_STATUSES = ("completed", "failed", "cancelled", "interrupted")


class Run(IdMixin, Base):
    __tablename__ = "run"
    __table_args__ = (
        Index("ix_run_conversation_id_created_at", "conversation_id", "created_at"),
        Index("ix_run_status", "status"),
        Index("ix_run_schedule_id", "schedule_id"),
        # One executing run per conversation: the database, not a check-then-act, decides.
        Index(
            "uq_run_running_conversation",
            "conversation_id",
            unique=True,
            sqlite_where=text("status = 'running'"),
            postgresql_where=text("status = 'running'"),
        ),
    )

    conversation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("conversation.id", ondelete="CASCADE")
    )
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(20), default="queued")
    # The JSON columns below store None as SQL NULL (none_as_null), whether a row is made with it
    # or it is set later, not as the JSON text 'null'.
    # {"error", "detail"} as a client sees it, plus "status_code" and "headers" for JSON replies.
    error: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True), default=None)
    usage: Mapped[dict[str, int] | None] = mapped_column(JSON(none_as_null=True), default=None)
    # Tool calls waiting for an approval: [{"id", "name", "arguments"}].
    pending_tool_calls: Mapped[list[dict[str, Any]] | None] = mapped_column(
        JSON(none_as_null=True), default=None
    )
    # The messages to append when the run starts ([{"role", "content"}]), and whether it streams.
    input: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    stream: Mapped[bool] = mapped_column(default=False)
    # The position of the run's first message, and the undo records of its tools (rollback).
    first_position: Mapped[int | None] = mapped_column(default=None)
    effects: Mapped[list[dict[str, Any]] | None] = mapped_column(
        JSON(none_as_null=True), default=None
    )
    owner: Mapped[str | None] = mapped_column(String(120), default=None)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    cancel_requested: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The assistant the run uses, at the version it was created with (a built-in's name, or an
    # assistant's id); the URL its final status is posted to; the schedule that started it.
    assistant_id: Mapped[str | None] = mapped_column(String(64), default=None)
    assistant_version: Mapped[int | None] = mapped_column(default=None)
    webhook: Mapped[str | None] = mapped_column(String(2000), default=None)
    schedule_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class RunEvent(Base):
    __tablename__ = "run_event"

    # (run_id, seq) is the key: an event is written once, and read back in order.
    run_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("run.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(primary_key=True)
    event: Mapped[str] = mapped_column(String(40))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
