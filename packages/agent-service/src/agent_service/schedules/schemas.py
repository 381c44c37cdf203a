"""Schedule schemas: what POST /api/assistants/{id}/schedules takes, and a schedule as shown."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from agent_service.agents.schemas import MAX_MESSAGES
from agent_service.background.schemas import InputMessage, WebhookURL
from agent_service.text import NUL_FREE_PATTERN

# Stripped after the length check, so the published maxLength is the one applied.
Cron = Annotated[
    str,
    StringConstraints(min_length=1, max_length=120, pattern=NUL_FREE_PATTERN),
    AfterValidator(str.strip),
]
Timezone = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_+\-/]{1,64}$")]


class ScheduleCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cron: Cron = Field(
        description=(
            "Five fields (minute hour day month weekday), or six with seconds last; "
            "e.g. `0 9 * * 1-5`: 9:00 on weekdays."
        ),
        examples=["0 9 * * 1-5"],
    )
    timezone: Timezone = Field(default="UTC", description="An IANA zone, e.g. `Europe/Paris`.")
    input: list[InputMessage] = Field(min_length=1, max_length=MAX_MESSAGES)
    webhook: WebhookURL | None = None


class SchedulePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    assistant_id: str
    cron: str
    timezone: str
    input: list[InputMessage]
    webhook: str | None
    next_run_at: datetime
    created_at: datetime
