"""Task schemas: what comes in, what goes out."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from agent_service.openapi import not_nullable
from agent_service.text import NON_BLANK, Text

Title = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), NON_BLANK
]
Description = Annotated[Text, Field(max_length=10_000)]


class TaskPriority(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class TaskStatus(StrEnum):
    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    DONE = "done"


class TaskCreate(BaseModel):
    """POST /api/tasks. `project_id` is a string so an unknown or malformed one is 404, not 422."""

    model_config = ConfigDict(extra="forbid")

    title: Title
    description: Description = ""
    priority: TaskPriority = TaskPriority.MEDIUM
    status: TaskStatus = TaskStatus.PENDING
    project_id: Text | None = None
    due_date: date | None = None


class TaskUpdate(BaseModel):
    """PATCH /api/tasks/{id}: only the fields sent change; `project_id: null` unfiles the task."""

    model_config = ConfigDict(extra="forbid")

    title: Title | None = Field(default=None, json_schema_extra=not_nullable)
    description: Description | None = Field(default=None, json_schema_extra=not_nullable)
    priority: TaskPriority | None = Field(default=None, json_schema_extra=not_nullable)
    status: TaskStatus | None = Field(default=None, json_schema_extra=not_nullable)
    project_id: str | None = None
    due_date: date | None = Field(default=None, description="`null` clears it.")

    @field_validator("title", "description", "priority", "status")
    @classmethod
    def _not_null(cls, value: object) -> object:
        # Runs only for fields sent: null is refused where "leave it out" is what was meant.
        if value is None:
            raise ValueError("cannot be null; leave the field out to keep its value")
        return value

    def changes(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True)


class TaskPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    title: str
    description: str
    priority: TaskPriority
    status: TaskStatus
    project_id: uuid.UUID | None
    due_date: date | None = None
    created_at: datetime
    updated_at: datetime
