"""The `webhook_secret` and `webhook_delivery` tables."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from agent_service.db import Base, IdMixin, UTCDateTime, utcnow


class WebhookSecret(Base):
    """One signing secret per user (`whsec_` + base64), shown once when made; a new one
    replaces it. Kept readable: the service signs with it, as GitHub keeps a hook's secret."""

    __tablename__ = "webhook_secret"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("user.id", ondelete="CASCADE"), primary_key=True
    )
    secret: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WebhookDelivery(IdMixin, Base):
    """One event for one URL, and every attempt at delivering it."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (Index("ix_webhook_delivery_user_id_created_at", "user_id", "created_at"),)

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    run_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    url: Mapped[str] = mapped_column(Text)
    event_type: Mapped[str] = mapped_column(String(40))
    # The exact body signed and sent, so every retry sends the same bytes.
    body: Mapped[str] = mapped_column(Text)
    # pending (attempts left) | delivered | failed (gave up, or the target was refused)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    # [{"at", "status_code", "error", "duration_ms"}], oldest first
    attempts: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
