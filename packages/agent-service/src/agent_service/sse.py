"""Server-sent events: named events with JSON data, heartbeats, and errors once the stream started.

Once the 200 and the first bytes are out, a status can no longer say what went wrong, so an error
becomes a last `error` event carrying the same body a JSON route would have answered with. A
client that goes away cancels the producing generator, and with it any upstream call it awaits.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from typing import Any

from pydantic import BaseModel
from sse_starlette import EventSourceResponse, ServerSentEvent

from agent_service.errors import AppError
from agent_service.observability import request_id_var

logger = logging.getLogger("agent_service.sse")

NamedEvent = tuple[str, BaseModel]


def stored_event(seq: int, name: str, data: dict[str, Any]) -> ServerSentEvent:
    """A stored event with its sequence number as `id:`, so a client can resume after it."""
    return ServerSentEvent(data=json.dumps(data), event=name, id=str(seq))


def sse_response(
    events: AsyncGenerator[NamedEvent | ServerSentEvent, None],
    *,
    heartbeat_s: float,
    headers: dict[str, str] | None = None,
) -> EventSourceResponse:
    """Stream `(event name, payload)` pairs (or ready events with ids); a comment line every
    `heartbeat_s` keeps proxies open."""
    return EventSourceResponse(
        _encoded(events),
        ping=heartbeat_s,
        ping_message_factory=lambda: ServerSentEvent(comment="heartbeat"),
        headers={"Cache-Control": "no-cache", **(headers or {})},
    )


async def _encoded(
    events: AsyncGenerator[NamedEvent | ServerSentEvent, None],
) -> AsyncIterator[ServerSentEvent]:
    try:
        async with aclosing(events):
            async for item in events:
                if isinstance(item, ServerSentEvent):
                    yield item
                else:
                    name, payload = item
                    yield ServerSentEvent(data=payload.model_dump_json(), event=name)
    except AppError as exc:
        yield error_event(exc.body())
    except Exception:
        request_id = request_id_var.get()
        logger.exception("stream failed", extra={"request_id": request_id})
        yield error_event(
            {
                "error": "internal_error",
                "detail": (
                    f"Something went wrong on our side. Quote request id {request_id!r} to report it."
                ),
            }
        )


def error_event(body: dict[str, Any]) -> ServerSentEvent:
    """The `error` event: `{"error": code, "detail": sentence}`, as in a JSON error response."""
    return ServerSentEvent(data=json.dumps(body), event="error")
