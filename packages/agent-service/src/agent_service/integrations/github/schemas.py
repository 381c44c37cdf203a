from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict


class WebhookAck(BaseModel):
    status: Literal["accepted", "duplicate", "ignored"]


class DeliveryPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    delivery_id: str
    event: str
    action: str | None
    repository: str | None
    issue_number: int | None
    status: str
    attempts: int
    triage: dict[str, Any] | None
    error: str | None
    created_at: datetime
    finished_at: datetime | None
