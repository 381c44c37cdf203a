"""`github_delivery`: one row per webhook delivery; its unique id makes redeliveries harmless."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from agent_service.db import Base, IdMixin, TimestampMixin, UTCDateTime


class DeliveryStatus(StrEnum):
    """Every delivery ends `done`, `ignored` or `failed`, with `finished_at` set."""

    QUEUED = "queued"  # a triage job is waiting or running
    DONE = "done"  # triaged, or nothing was asked of us (a ping)
    IGNORED = "ignored"  # an event or repository we don't act on
    FAILED = "failed"


class GitHubDelivery(IdMixin, TimestampMixin, Base):
    __tablename__ = "github_delivery"

    delivery_id: Mapped[str] = mapped_column(String(100), unique=True)
    event: Mapped[str] = mapped_column(String(60))
    action: Mapped[str | None] = mapped_column(String(60), default=None)
    repository: Mapped[str | None] = mapped_column(String(200), default=None)
    issue_number: Mapped[int | None] = mapped_column(default=None)
    status: Mapped[str] = mapped_column(String(20))
    attempts: Mapped[int] = mapped_column(default=0)
    triage: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
