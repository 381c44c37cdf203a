"""The middleware looks only at HTTP POSTs: the server's lifespan messages and a websocket pass
through untouched, even on a covered path with a key."""

from __future__ import annotations

from typing import Any

import pytest

from agent_service.idempotency.middleware import IdempotencyMiddleware

KEYED = [(b"idempotency-key", b"k"), (b"authorization", b"Bearer x")]


@pytest.mark.parametrize(
    "scope",
    [
        {"type": "lifespan", "asgi": {"version": "3.0"}},
        {"type": "websocket", "path": "/api/tasks", "headers": KEYED},
    ],
    ids=["lifespan", "websocket"],
)
async def test_a_scope_that_is_not_an_http_request_passes_through(scope: dict[str, Any]) -> None:
    seen: list[dict[str, Any]] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.append(scope)

    async def nothing() -> dict[str, Any]:
        raise AssertionError("the middleware read a message")

    async def refuse(message: dict[str, Any]) -> None:
        raise AssertionError(f"the middleware answered {message!r}")

    await IdempotencyMiddleware(app)(scope, nothing, refuse)

    assert seen == [scope]
