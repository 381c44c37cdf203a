"""The `schedule` table: a cron expression, its timezone, the input of each run, the next tick.

`next_run_at` is the tick still to start; a replica that starts it moves it on with one
conditional UPDATE (`WHERE next_run_at = <the tick it saw>`), in the transaction that creates the
run: two replicas seeing the same due tick make one run.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from agent_service.db import Base, IdMixin, UTCDateTime, utcnow


class Schedule(IdMixin, Base):
    __tablename__ = "schedule"
    __table_args__ = (
        Index("ix_schedule_next_run_at", "next_run_at"),
        Index("ix_schedule_user_id", "user_id"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    # A built-in assistant's name or an assistant's id (its runs use its latest version).
    assistant_id: Mapped[str] = mapped_column(String(64))
    cron: Mapped[str] = mapped_column(String(120))
    timezone: Mapped[str] = mapped_column(String(64))
    # The messages each run starts with: [{"role", "content"}].
    input: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    webhook: Mapped[str | None] = mapped_column(String(2000), default=None)
    next_run_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
