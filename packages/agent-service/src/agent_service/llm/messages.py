"""Chat messages as the service holds them, and their conversion to and from the OpenAI wire format.

The agent loop and the conversation store speak these small frozen types; only this module knows the
SDK's shapes, so a provider quirk is fixed in one place.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from openai.types.chat import ChatCompletion, ChatCompletionChunk
from openai.types.completion_usage import CompletionUsage

Role = Literal["system", "user", "assistant", "tool"]


class NotACompletion(ValueError):
    """A 200 from the provider whose body is not a usable chat completion."""


@dataclass(frozen=True)
class Usage:
    """Token counts of one model call, or a sum of several."""

    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
        )

    @classmethod
    def from_openai(cls, usage: CompletionUsage | None) -> Usage:
        if usage is None:
            return cls()
        return cls(int(usage.prompt_tokens or 0), int(usage.completion_tokens or 0))


@dataclass(frozen=True)
class ToolCallRequest:
    """One function call the model asked for; `arguments` is the JSON text exactly as sent."""

    id: str
    name: str
    arguments: str

    def to_openai(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": self.arguments},
        }


@dataclass(frozen=True)
class ChatMessage:
    """One turn of a conversation, in the roles the OpenAI chat API knows."""

    role: Role
    content: str | None = None
    tool_calls: tuple[ToolCallRequest, ...] = ()
    tool_call_id: str | None = None

    def to_openai(self) -> dict[str, Any]:
        message: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.tool_calls:
            message["tool_calls"] = [call.to_openai() for call in self.tool_calls]
        if self.tool_call_id is not None:
            message["tool_call_id"] = self.tool_call_id
        return message


@dataclass(frozen=True)
class ToolSpec:
    """What the model is told about a tool: its name, purpose and JSON-schema parameters."""

    name: str
    description: str
    parameters: dict[str, Any]

    def to_openai(self) -> dict[str, Any]:
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters,
            },
        }


@dataclass(frozen=True)
class Completion:
    """The model's answer to one request: an assistant message (text or tool calls) and its usage."""

    message: ChatMessage
    usage: Usage = field(default_factory=Usage)
    finish_reason: str | None = None


@dataclass(frozen=True)
class TextDelta:
    """A fragment of the assistant's text, as it streams in."""

    text: str


def completion_from_openai(response: object) -> Completion:
    """Check that a provider's 200 really is a chat completion and turn it into ours."""
    if not isinstance(response, ChatCompletion) or not response.choices:
        raise NotACompletion("the response has no `choices`")
    choice = response.choices[0]
    message = getattr(choice, "message", None)
    if message is None:
        raise NotACompletion("the first choice has no `message`")
    calls = tuple(_tool_call(call) for call in message.tool_calls or ())
    content = message.content if isinstance(message.content, str) else None
    return Completion(
        ChatMessage("assistant", content, calls),
        Usage.from_openai(response.usage),
        choice.finish_reason,
    )


def _tool_call(call: object) -> ToolCallRequest:
    function = getattr(call, "function", None)
    call_id = getattr(call, "id", None)
    name = getattr(function, "name", None)
    arguments = getattr(function, "arguments", None)
    if not (isinstance(call_id, str) and call_id and isinstance(name, str) and name):
        raise NotACompletion("a tool call has no id or no function name")
    return ToolCallRequest(call_id, name, arguments if isinstance(arguments, str) else "")


class CompletionAssembler:
    """Builds one `Completion` from a `chat.completion.chunk` stream.

    Tool-call arguments arrive in fragments keyed by `index`, possibly interleaved across calls.
    """

    def __init__(self) -> None:
        self.text: list[str] = []
        self.calls: dict[int, dict[str, str]] = {}
        self.usage = Usage()
        self.finish_reason: str | None = None
        self.chunks = 0

    def add(self, chunk: object) -> str:
        """Take in one chunk; return its text delta ("" when it carries none)."""
        if not isinstance(chunk, ChatCompletionChunk):
            raise NotACompletion("a stream event is not a chat.completion.chunk")
        self.chunks += 1
        if chunk.usage is not None:
            self.usage = Usage.from_openai(chunk.usage)
        if not chunk.choices:
            return ""
        choice = chunk.choices[0]
        self.finish_reason = choice.finish_reason or self.finish_reason
        delta = choice.delta
        for fragment in (delta.tool_calls or ()) if delta is not None else ():
            call = self.calls.setdefault(fragment.index, {"id": "", "name": "", "arguments": ""})
            call["id"] = fragment.id or call["id"]
            if fragment.function is not None:
                call["name"] = fragment.function.name or call["name"]
                call["arguments"] += fragment.function.arguments or ""
        text = delta.content if delta is not None and isinstance(delta.content, str) else ""
        if text:
            self.text.append(text)
        return text

    def completion(self) -> Completion:
        if self.chunks == 0:
            raise NotACompletion("the stream ended without a single chunk")
        calls = tuple(
            ToolCallRequest(c["id"], c["name"], c["arguments"])
            for _, c in sorted(self.calls.items())
        )
        if any(not (call.id and call.name) for call in calls):
            raise NotACompletion("a streamed tool call has no id or no function name")
        content = "".join(self.text) if self.text or not calls else None
        return Completion(ChatMessage("assistant", content, calls), self.usage, self.finish_reason)


def valid_history(messages: Iterable[ChatMessage]) -> list[ChatMessage]:
    """The history with every tool call answered: what the chat API accepts.

    An assistant message whose tool calls lack a result is dropped with its partial results, and a
    tool result answering no call is dropped. The store commits a call with its results, so this only
    repairs histories written by older code or by hand; it is cheap insurance on every request.
    """
    ordered = list(messages)
    kept: list[ChatMessage] = []
    i = 0
    while i < len(ordered):
        message = ordered[i]
        if message.role == "tool":
            i += 1  # answers no call that was kept
            continue
        if message.role != "assistant" or not message.tool_calls:
            kept.append(message)
            i += 1
            continue
        results, i = _results_after(ordered, i + 1)
        wanted = {call.id for call in message.tool_calls}
        if wanted <= {r.tool_call_id for r in results}:
            kept.append(message)
            kept.extend(r for r in results if r.tool_call_id in wanted)
    return kept


def _results_after(messages: Sequence[ChatMessage], start: int) -> tuple[list[ChatMessage], int]:
    end = start
    while end < len(messages) and messages[end].role == "tool":
        end += 1
    return list(messages[start:end]), end
