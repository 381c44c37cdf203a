"""Conversation schemas: what comes in, what goes out."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from agent_service.llm.messages import Usage
from agent_service.text import Text


class ConversationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agent_type: Text = Field(min_length=1, max_length=64)
    title: Text = Field(default="", max_length=200)


class UsagePublic(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0

    @classmethod
    def of(cls, usage: Usage) -> UsagePublic:
        return cls(
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            total_tokens=usage.total_tokens,
        )


class ConversationPublic(BaseModel):
    """A conversation; `usage` sums the tokens of every model call made in it."""

    id: uuid.UUID
    agent_type: str
    title: str
    created_at: datetime
    updated_at: datetime
    usage: UsagePublic


class ToolCallPublic(BaseModel):
    """A tool call as the model made it; `arguments` is its JSON object, or the raw text if invalid."""

    id: str
    name: str
    arguments: dict[str, Any] | str


class MessagePublic(BaseModel):
    id: uuid.UUID
    role: str
    content: str | None
    tool_calls: list[ToolCallPublic] | None = None
    tool_call_id: str | None = None
    name: str | None = Field(default=None, description="The tool a `tool` message answers for.")
    is_error: bool = False
    usage: UsagePublic | None = Field(
        default=None, description="Assistant messages: the usage of the model call behind them."
    )
    created_at: datetime


class HistoryPublic(BaseModel):
    conversation_id: uuid.UUID
    agent_type: str
    messages: list[MessagePublic]


def parse_json_text(text: str) -> dict[str, Any] | str:
    """A JSON object as a dict; anything else (invalid JSON, a list, a number) as the text itself."""
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value if isinstance(value, dict) else text
