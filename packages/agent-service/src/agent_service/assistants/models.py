"""The `assistant` and `assistant_version` tables.

An assistant row is the mutable head (owner, who may see it, its latest version number); every
configuration it ever had is an immutable `assistant_version` row, so a run that recorded
`(assistant_id, assistant_version)` can always be explained, whatever was changed since.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from agent_service.db import Base, IdMixin, TimestampMixin, UTCDateTime, utcnow


class Assistant(IdMixin, TimestampMixin, Base):
    __tablename__ = "assistant"
    __table_args__ = (Index("ix_assistant_user_id_created_at", "user_id", "created_at"),)

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(120))
    # Published by an admin: every user may see and run it (only its owner may change it).
    public: Mapped[bool] = mapped_column(default=False)
    version: Mapped[int] = mapped_column(default=1)


class AssistantVersion(Base):
    __tablename__ = "assistant_version"

    assistant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("assistant.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(primary_key=True)
    # The whole configuration as `AssistantConfig.model_dump(mode="json")`.
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
