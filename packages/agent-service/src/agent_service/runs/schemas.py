"""Run schemas: the run as a client sees it, and the decisions that resume one."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from agent_service.text import Text

MultitaskStrategy = Literal["enqueue", "reject", "interrupt", "rollback"]
OnDisconnect = Literal["continue", "cancel"]
RunStatus = Literal[
    "queued", "running", "requires_action", "completed", "failed", "cancelled", "interrupted"
]


class RunError(BaseModel):
    error: str
    detail: str


class RunUsage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


class PendingToolCall(BaseModel):
    id: str
    name: str
    arguments: dict[str, Any] | str
    # What the call will do, in words (Markdown emphasis), when its tool can say it.
    description: str | None = None


class RunPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    conversation_id: uuid.UUID
    status: RunStatus
    error: RunError | None
    usage: RunUsage
    pending_tool_calls: list[PendingToolCall]
    created_at: datetime
    finished_at: datetime | None


class Decision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tool_call_id: Text = Field(min_length=1, max_length=128)
    approve: bool
    reason: Text | None = Field(default=None, max_length=2000)


class ResumeRequest(BaseModel):
    """POST /api/runs/{id}/resume: one decision per pending tool call."""

    decisions: list[Decision] = Field(min_length=1, max_length=64)
