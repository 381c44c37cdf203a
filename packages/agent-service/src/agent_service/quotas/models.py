"""The `token_usage` table: tokens a user's runs used on one UTC day, one row per (user, day), and
the tokens reserved by the runs admitted that day and not yet settled."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import BigInteger, Date, ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from agent_service.db import Base


class TokenUsage(Base):
    __tablename__ = "token_usage"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("user.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    reserved: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
