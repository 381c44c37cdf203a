"""Chat schemas: the two request shapes, the reply, the streamed events and the agent catalogue."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field, ValidationInfo, field_validator

from agent_service.conversations.schemas import UsagePublic
from agent_service.runs.schemas import MultitaskStrategy, OnDisconnect, PendingToolCall
from agent_service.text import NON_BLANK, Text

MAX_MESSAGE_CHARS = 32_000
MAX_MESSAGES = 100


def _not_blank(text: str) -> str:
    if not text.strip():
        raise ValueError("must contain some text")
    return text


Content = Annotated[
    str, Field(min_length=1, max_length=MAX_MESSAGE_CHARS), AfterValidator(_not_blank), NON_BLANK
]
Key = Annotated[Text, Field(min_length=1, max_length=200)]


class RunOptions(BaseModel):
    """How a chat turn's run behaves when the conversation is busy or the client goes away."""

    multitask_strategy: MultitaskStrategy = Field(
        default="enqueue",
        description=(
            "When a run of the conversation is active: `enqueue` (run after it), `reject` (409 "
            "run_in_progress), `interrupt` (cancel it, keep its work) or `rollback` (cancel it "
            "and remove its messages and tool effects)."
        ),
    )
    on_disconnect: OnDisconnect = Field(
        default="continue",
        description="`continue`: the run finishes and is stored; `cancel`: it stops.",
    )


class ChatRequest(RunOptions):
    """POST /api/agent/chat: one user message; no id continues your latest conversation."""

    message: Content
    conversation_id: Key | None = None
    agent_type: Key | None = Field(
        default=None, description="Default: the conversation's type, or `assistant`."
    )
    assistant_id: Key | None = Field(
        default=None,
        description="Chat with this assistant (yours, a published or a built-in one) instead.",
    )
    assistant_version: int | None = Field(
        default=None, ge=1, le=2_000_000_000, description="Default: its latest version."
    )


class IncomingMessage(BaseModel):
    role: Literal["user", "assistant"]
    content: Content


class AgentChatRequest(RunOptions):
    """POST /api/agents/{agent_type}/chat: messages to append, the last one the user's."""

    messages: list[IncomingMessage] = Field(min_length=1, max_length=MAX_MESSAGES)
    conversation_id: Key | None = None
    session_id: Key | None = Field(
        default=None,
        description=(
            "Your own key for a conversation: the conversation you keyed so, made on first use."
        ),
    )

    @field_validator("messages")
    @classmethod
    def _ends_with_user(cls, messages: list[IncomingMessage]) -> list[IncomingMessage]:
        if messages[-1].role != "user":
            raise ValueError("the last message must have the role 'user'")
        return messages

    @field_validator("session_id")
    @classmethod
    def _same_id(cls, session_id: str | None, info: ValidationInfo) -> str | None:
        conversation_id = info.data.get("conversation_id")
        if session_id is not None and conversation_id not in (None, session_id):
            raise ValueError("names another conversation than conversation_id; send one of them")
        return session_id


class ToolCallResult(BaseModel):
    """A tool call of this turn: arguments and result as JSON objects (raw text if not JSON)."""

    id: str
    name: str
    arguments: dict[str, Any] | str
    result: dict[str, Any] | str
    is_error: bool


class ChatReply(BaseModel):
    """The turn's answer; `status` is `requires_action` when a tool waits for your approval."""

    response: str
    conversation_id: uuid.UUID
    message_id: uuid.UUID | None
    tool_calls: list[ToolCallResult]
    usage: UsagePublic
    run_id: uuid.UUID
    status: Literal["completed", "requires_action"] = "completed"
    pending_tool_calls: list[PendingToolCall] = Field(default_factory=list)


class MessageDeltaEvent(BaseModel):
    delta: str


class ToolCallEvent(BaseModel):
    id: str
    name: str
    arguments: dict[str, Any] | str


class ToolResultEvent(BaseModel):
    id: str
    name: str
    result: dict[str, Any] | str
    is_error: bool


class MessageCompletedEvent(BaseModel):
    response: str
    conversation_id: uuid.UUID
    message_id: uuid.UUID
    usage: UsagePublic


class ToolPublic(BaseModel):
    name: str
    description: str
    parameters: dict[str, Any]


class AgentPublic(BaseModel):
    agent_type: str
    description: str
    tools: list[ToolPublic]


class AgentsPublic(BaseModel):
    items: list[AgentPublic]
    # LLM_MODEL: "demo-model" when `serve --llm demo` answers (the page then says it is a demo).
    model: str = ""
