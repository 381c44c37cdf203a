from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field


class DailyUsagePublic(BaseModel):
    """Tokens your runs used today (UTC) and your daily quota (null: none)."""

    day: date = Field(description="The UTC day counted.")
    tokens_used: int
    quota: int | None
    tokens_left: int | None
    resets_at: datetime = Field(description="When the count starts again (next midnight UTC).")
