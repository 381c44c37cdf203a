"""Read Server-Sent Events from an httpx (or httpx2) response, as a browser's EventSource would.

Tests of streaming endpoints then assert on named events and their JSON, not on byte layout.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class SSEEvent:
    """One dispatched event: `event` ("message" unless named), `data` (lines joined by "\\n"), `id`."""

    event: str = "message"
    data: str = ""
    id: str | None = None
    retry: int | None = None

    def json(self) -> Any:
        """`data` parsed as JSON."""
        return json.loads(self.data)


class SSEParser:
    """Incremental parser: feed text as it arrives, get the events completed so far.

    Comment lines (heartbeats) are kept in `comments`; the last event id carries over, per the spec.
    """

    def __init__(self) -> None:
        self.comments: list[str] = []
        self._buffer = ""
        self._event = ""
        self._data: list[str] = []
        self._last_id: str | None = None
        self._retry: int | None = None

    def feed(self, text: str) -> list[SSEEvent]:
        self._buffer += text.replace("\r\n", "\n").replace("\r", "\n")
        *lines, self._buffer = self._buffer.split("\n")
        events = []
        for line in lines:
            event = self._line(line)
            if event is not None:
                events.append(event)
        return events

    def flush(self) -> list[SSEEvent]:
        """End of stream: a last event without its blank line is dropped, as EventSource does."""
        self._buffer = ""
        self._event, self._data = "", []
        return []

    def _line(self, line: str) -> SSEEvent | None:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            self.comments.append(line[1:].lstrip(" "))
            return None
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        elif name == "id" and "\0" not in value:
            self._last_id = value
        elif name == "retry" and value.isdigit():
            self._retry = int(value)
        return None

    def _dispatch(self) -> SSEEvent | None:
        if not self._data and not self._event:
            return None
        event = SSEEvent(
            self._event or "message", "\n".join(self._data), self._last_id, self._retry
        )
        self._event, self._data = "", []
        return event


def parse_sse(text: str) -> list[SSEEvent]:
    """Every complete event in a whole SSE body (e.g. `response.text`)."""
    return SSEParser().feed(text)


class _SyncTextResponse(Protocol):
    def iter_text(self) -> Iterator[str]: ...


class _AsyncTextResponse(Protocol):
    def aiter_text(self) -> AsyncIterator[str]: ...


def iter_sse(response: _SyncTextResponse) -> Iterator[SSEEvent]:
    """Events of a sync httpx/httpx2 response as they arrive (use `client.stream(...)` to not buffer)."""
    parser = SSEParser()
    for text in response.iter_text():
        yield from parser.feed(text)


async def aiter_sse(response: _AsyncTextResponse) -> AsyncIterator[SSEEvent]:
    """Events of an async httpx/httpx2 response as they arrive."""
    parser = SSEParser()
    async for text in response.aiter_text():
        for event in parser.feed(text):
            yield event
