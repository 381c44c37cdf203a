"""`github_delivery`: one row per webhook delivery; its unique id makes redeliveries harmless."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from agent_service.db import Base, IdMixin, TimestampMixin, UTCDateTime


class DeliveryStatus(StrEnum):
    ACCEPTED = "accepted"  # answered, nothing to do (ping)
    IGNORED = "ignored"  # an event or repository we don't act on
    QUEUED = "queued"  # a triage job is waiting
    DONE = "done"
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
