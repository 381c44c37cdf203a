"""Script items: what the fake LLM answers, one item per chat completion call.

Each item is a small frozen value, so a test reads as a list of turns and a fault is just another turn.
The builder functions at the bottom are the public way to make items; `FakeLLM` exposes the same
functions as methods so a test needs only the fixture.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeAlias

if TYPE_CHECKING:
    from agent_testkit.fake_llm.recording import RecordedCall


@dataclass(frozen=True)
class Reply:
    """An assistant message with text content (`finish_reason` "stop" unless given)."""

    text: str
    finish_reason: str = "stop"
    chunk_delay: float = 0.0
    unchecked: bool = False

    def describe(self) -> str:
        return f"reply({self.text!r})"


@dataclass(frozen=True)
class ToolCall:
    """One function call the model asks for; `arguments` is the JSON text, sent verbatim."""

    name: str
    arguments: str
    call_id: str | None = None


@dataclass(frozen=True)
class ToolCalls:
    """An assistant message with one or more (parallel) tool calls, `finish_reason` "tool_calls"."""

    calls: tuple[ToolCall, ...]
    content: str | None = None
    chunk_delay: float = 0.0
    unchecked: bool = False

    def describe(self) -> str:
        parts = ", ".join(f"{c.name}({c.arguments})" for c in self.calls)
        return f"tool_calls([{parts}])" if len(self.calls) > 1 else f"tool_call({parts})"


@dataclass(frozen=True)
class Respond:
    """Decides the answer when the call arrives: `fn(call)` returns another item."""

    fn: Callable[[RecordedCall], ScriptItem]

    def describe(self) -> str:
        return f"respond({getattr(self.fn, '__name__', repr(self.fn))})"


RetryAfter: TypeAlias = float | str | datetime


@dataclass(frozen=True)
class RateLimited:
    """HTTP 429 with the provider's error body and only the wait headers asked for.

    `retry_after` is sent as `Retry-After` (seconds, fractions allowed, or an HTTP date: a string sent
    verbatim or a datetime formatted as one); `retry_after_ms` as `retry-after-ms` (OpenAI's extension).
    """

    retry_after: RetryAfter | None = 0.01
    message: str = "Rate limit reached for requests. Please try again later."
    retry_after_ms: float | None = None

    def describe(self) -> str:
        shown = [f"retry_after={self.retry_after!r}"] if self.retry_after is not None else []
        if self.retry_after_ms is not None:
            shown.append(f"retry_after_ms={self.retry_after_ms!r}")
        return f"rate_limited({', '.join(shown)})"


@dataclass(frozen=True)
class ServerError:
    """An HTTP 5xx (or any status) with the provider's error body."""

    status: int = 500
    message: str = "The server had an error while processing your request."
    retry_after: RetryAfter | None = None
    retry_after_ms: float | None = None

    def describe(self) -> str:
        return f"server_error(status={self.status})"


@dataclass(frozen=True)
class Hang:
    """No answer at all: the request hangs until the client's read timeout gives up."""

    def describe(self) -> str:
        return "timeout()"


@dataclass(frozen=True)
class Disconnect:
    """The connection drops before any response is sent."""

    def describe(self) -> str:
        return "disconnect()"


@dataclass(frozen=True)
class CutStream:
    """The answer starts normally and the connection drops after `after` chunks (or half the body)."""

    after: int = 1
    item: Reply | ToolCalls = field(
        default_factory=lambda: Reply("This answer is cut off before it ends.")
    )

    def describe(self) -> str:
        return f"cut_stream(after={self.after})"


@dataclass(frozen=True)
class MalformedSSE:
    """A stream whose first chunk is fine and whose next `data:` line is not JSON."""

    line: str = 'data: {"id": "chatcmpl-broken", "object": "chat.completion.chunk", "choices": ['

    def describe(self) -> str:
        return "malformed_sse()"


@dataclass(frozen=True)
class Malformed:
    """A response with this exact body (200 and JSON content type unless given): not a completion."""

    body: str | bytes = '{"choices": [{"message": '
    status: int = 200
    content_type: str = "application/json"

    def describe(self) -> str:
        return f"malformed({self.body!r})"


ScriptItem: TypeAlias = (
    Reply
    | ToolCalls
    | Respond
    | RateLimited
    | ServerError
    | Hang
    | Disconnect
    | CutStream
    | MalformedSSE
    | Malformed
)
SCRIPT_ITEM_TYPES = (
    Reply,
    ToolCalls,
    Respond,
    RateLimited,
    ServerError,
    Hang,
    Disconnect,
    CutStream,
    MalformedSSE,
    Malformed,
)


class Script:
    """A thread-safe queue of items, consumed one per chat completion call, in order."""

    def __init__(self) -> None:
        self._items: deque[tuple[int, ScriptItem]] = deque()
        self._lock = threading.Lock()
        self._added = 0

    def extend(self, items: Iterable[ScriptItem]) -> None:
        with self._lock:
            for item in items:
                if not isinstance(item, SCRIPT_ITEM_TYPES):
                    raise TypeError(
                        f"not a script item: {item!r}; build one with reply(), tool_call(), ..."
                    )
                self._added += 1
                self._items.append((self._added, item))

    def pop(self) -> ScriptItem | None:
        with self._lock:
            return self._items.popleft()[1] if self._items else None

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def remaining(self) -> list[tuple[int, ScriptItem]]:
        """Items not used yet, with their 1-based position in the script."""
        with self._lock:
            return list(self._items)


def reply(
    text: str, *, finish_reason: str = "stop", chunk_delay: float = 0.0, unchecked: bool = False
) -> Reply:
    """The model answers with `text`; streamed, its chunks are `chunk_delay` seconds apart.

    When the request asks for structured output, `text` must validate against its schema;
    `unchecked=True` sends it anyway (to test the app's own validation).
    """
    return Reply(text, finish_reason, _delay(chunk_delay), unchecked)


def tool_call(
    name: str, /, *, chunk_delay: float = 0.0, unchecked: bool = False, **arguments: Any
) -> ToolCalls:
    """The model calls one tool with these keyword arguments (sent as JSON).

    The tool must be one the request offered and the arguments must validate against its schema;
    `unchecked=True` sends the call anyway. Streamed, the chunks are `chunk_delay` seconds apart. (A
    tool argument called `chunk_delay` or `unchecked` is scripted with `tool_calls([("name", {...})])`.)
    """
    only = (ToolCall(name, json.dumps(arguments)),)
    return ToolCalls(only, chunk_delay=_delay(chunk_delay), unchecked=unchecked)


def _delay(seconds: float) -> float:
    if seconds < 0:
        raise ValueError(f"chunk_delay must be 0 or more seconds, not {seconds!r}")
    return float(seconds)


ToolCallSpec: TypeAlias = ToolCall | ToolCalls | tuple[str, Mapping[str, Any] | str]


def tool_calls(
    calls: Iterable[ToolCallSpec],
    *,
    content: str | None = None,
    chunk_delay: float = 0.0,
    unchecked: bool = False,
) -> ToolCalls:
    """The model calls several tools in parallel.

    Each entry is `tool_call(...)`, a `ToolCall`, or `(name, arguments)` where arguments is a dict or a
    raw string (sent verbatim, so invalid JSON can be scripted too: such a string is not checked against
    the tool's schema). Each call is checked like `tool_call`'s unless `unchecked=True`. Streamed, the
    chunks are `chunk_delay` seconds apart.
    """
    flat: list[ToolCall] = []
    for spec in calls:
        if isinstance(spec, ToolCalls):
            flat.extend(spec.calls)
        elif isinstance(spec, ToolCall):
            flat.append(spec)
        else:
            name, args = spec
            flat.append(ToolCall(name, args if isinstance(args, str) else json.dumps(dict(args))))
    if not flat:
        raise ValueError("tool_calls() needs at least one call")
    return ToolCalls(tuple(flat), content, _delay(chunk_delay), unchecked)


def respond(fn: Callable[[RecordedCall], ScriptItem]) -> Respond:
    """Decide the answer from the request: `fn(call)` gets the recorded call and returns an item."""
    return Respond(fn)


class _NotGiven:
    def __repr__(self) -> str:
        return "NOT_GIVEN"


NOT_GIVEN: Any = _NotGiven()


def rate_limited(
    retry_after: RetryAfter | None = NOT_GIVEN, *, retry_after_ms: float | None = None
) -> RateLimited:
    """HTTP 429 with only the wait headers asked for.

    `retry_after` (seconds, or an HTTP date as a string or a datetime) is sent as `Retry-After`,
    `retry_after_ms` as `retry-after-ms`. With neither, `Retry-After: 0.01`: small, so clients that honour
    it do not slow the suite; `retry_after=None` sends no wait header at all.
    """
    if retry_after is NOT_GIVEN:
        retry_after = 0.01 if retry_after_ms is None else None
    return RateLimited(retry_after, retry_after_ms=retry_after_ms)


def server_error(
    status: int = 500, *, retry_after: RetryAfter | None = None, retry_after_ms: float | None = None
) -> ServerError:
    """An HTTP 5xx with the provider's error body (and the wait headers given: SDKs honour them on 5xx too)."""
    return ServerError(status, retry_after=retry_after, retry_after_ms=retry_after_ms)


def overloaded(*, retry_after: RetryAfter | None = None) -> ServerError:
    """HTTP 529 "overloaded" (Anthropic's `overloaded_error`; an OpenAI client sees a 529 server error)."""
    return ServerError(529, "Overloaded", retry_after=retry_after)


def timeout() -> Hang:
    """Hang until the client's timeout gives up (in-process: its read timeout; server: a real hang)."""
    return Hang()


def disconnect() -> Disconnect:
    """Drop the connection without a response."""
    return Disconnect()


def cut_stream(after: int = 1, *, item: Reply | ToolCalls | None = None) -> CutStream:
    """Send `after` chunks of `item` (a reply by default), then drop the connection."""
    return CutStream(after, item) if item is not None else CutStream(after)


def malformed_sse(line: str | None = None) -> MalformedSSE:
    """A stream with a `data:` line that is not JSON after the first good chunk."""
    return MalformedSSE(line) if line is not None else MalformedSSE()


def malformed(
    body: str | bytes | None = None, *, status: int = 200, content_type: str = "application/json"
) -> Malformed:
    """A 200 whose body is not a chat completion (truncated JSON by default)."""
    return Malformed(body if body is not None else Malformed.body, status, content_type)
