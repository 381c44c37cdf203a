"""Webhook schemas."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class WebhookSecretCreated(BaseModel):
    """The secret, shown this once: verify deliveries with any Standard Webhooks library."""

    secret: str = Field(description="`whsec_…`: keep it; it is not shown again.")
    created_at: datetime


class WebhookSecretStatus(BaseModel):
    configured: bool
    created_at: datetime | None


class WebhookAttempt(BaseModel):
    at: str
    status_code: int | None
    error: str | None
    duration_ms: int | None = None


class WebhookDeliveryPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    run_id: uuid.UUID | None
    url: str
    event_type: str
    status: str = Field(description="pending (attempts left), delivered or failed.")
    attempts: list[WebhookAttempt]
    next_attempt_at: datetime | None
    created_at: datetime
    delivered_at: datetime | None
