"""Run schemas: the run as a client sees it, and the decisions that resume one."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from agent_service.text import Text

MultitaskStrategy = Literal["enqueue", "reject", "interrupt", "rollback"]
OnDisconnect = Literal["continue", "cancel"]
RunStatus = Literal[
    "queued", "running", "requires_action", "completed", "failed", "cancelled", "interrupted"
]


@dataclass(frozen=True)
class RunOrigin:
    """What a run is created with besides its messages: the assistant version it uses, the URL
    its final status is posted to, the schedule that started it."""

    assistant_id: str | None = None
    assistant_version: int | None = None
    webhook: str | None = None
    schedule_id: uuid.UUID | None = None


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


class RequiredAction(BaseModel):
    type: Literal["submit_tool_outputs"] = "submit_tool_outputs"
    tool_calls: list[PendingToolCall]


class RunPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    conversation_id: uuid.UUID
    status: RunStatus
    error: RunError | None
    usage: RunUsage
    pending_tool_calls: list[PendingToolCall]
    required_action: RequiredAction | None = Field(
        default=None,
        description=(
            "Set while client-side function tools wait for their outputs: post them to "
            "`/api/runs/{id}/tool_outputs`."
        ),
    )
    assistant_id: str | None = None
    assistant_version: int | None = None
    created_at: datetime
    finished_at: datetime | None


class Decision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tool_call_id: Text = Field(min_length=1, max_length=128)
    approve: bool
    reason: Text | None = Field(default=None, max_length=2000)


class ToolOutputDecision(Decision):
    """A client-side function's output, as the client posted it (`/tool_outputs`): the call is
    answered with it instead of being run here."""

    output: str


class ResumeRequest(BaseModel):
    """POST /api/runs/{id}/resume: one decision per pending tool call."""

    model_config = ConfigDict(extra="forbid")

    decisions: list[Decision] = Field(min_length=1, max_length=64)
