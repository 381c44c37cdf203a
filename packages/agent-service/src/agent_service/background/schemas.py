"""Background run schemas: what POST /api/runs takes, tool outputs, the run with its output."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from agent_service.agents.schemas import MAX_MESSAGES, Content, Key
from agent_service.assistants.tools import HTTP_URL_PATTERN
from agent_service.runs.schemas import Decision, MultitaskStrategy, RunPublic
from agent_service.text import Text

WebhookURL = Annotated[str, StringConstraints(max_length=2000, pattern=HTTP_URL_PATTERN)]
Version = Annotated[int, Field(ge=1, le=2_000_000_000)]


class InputMessage(BaseModel):
    """A message a run starts with: the user's, or an earlier answer to give context."""

    model_config = ConfigDict(extra="forbid")

    role: Literal["user", "assistant"]
    content: Content


class BackgroundRunCreate(BaseModel):
    """POST /api/runs: start an assistant on these messages; the answer does not wait for it."""

    model_config = ConfigDict(extra="forbid")

    assistant_id: Key = Field(description="A built-in assistant's name or your assistant's id.")
    assistant_version: Version | None = Field(default=None, description="Default: the latest.")
    input: list[InputMessage] = Field(min_length=1, max_length=MAX_MESSAGES)
    conversation_id: Key | None = Field(
        default=None, description="Continue this conversation; default: a new one."
    )
    multitask_strategy: MultitaskStrategy = "enqueue"
    webhook: WebhookURL | None = Field(
        default=None,
        description=(
            "POSTed the run, signed (Standard Webhooks), when it ends; make your signing secret "
            "first (POST /api/webhooks/secret)."
        ),
    )


class ToolOutput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tool_call_id: Text = Field(min_length=1, max_length=128)
    output: Text = Field(max_length=100_000)


class ToolOutputsRequest(BaseModel):
    """POST /api/runs/{id}/tool_outputs: one output per client-side call the run waits on (and
    a decision for each call waiting for approval in the same step, if any)."""

    model_config = ConfigDict(extra="forbid")

    tool_outputs: list[ToolOutput] = Field(min_length=1, max_length=64)
    decisions: list[Decision] = Field(default_factory=list, max_length=64)


class BackgroundRunPublic(RunPublic):
    """A run with its answer (once completed)."""

    output: str | None = None
