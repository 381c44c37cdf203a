"""Project schemas: what comes in, what goes out."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from agent_service.tasks.schemas import Description, TaskPriority, TaskPublic, TaskStatus, Title
from agent_service.text import NON_BLANK

Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), NON_BLANK
]
MAX_TASKS_AT_CREATION = 50


class ProjectTaskCreate(BaseModel):
    """A task created together with its project."""

    model_config = ConfigDict(extra="forbid")

    title: Title
    description: Description = ""
    priority: TaskPriority = TaskPriority.MEDIUM
    status: TaskStatus = TaskStatus.PENDING


class ProjectCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    description: Description = ""
    tasks: list[ProjectTaskCreate] = Field(default_factory=list, max_length=MAX_TASKS_AT_CREATION)


class ProjectPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    description: str
    created_at: datetime
    updated_at: datetime


class ProjectDetail(ProjectPublic):
    """GET /api/projects/{id}: the project with its tasks."""

    tasks: list[TaskPublic]
