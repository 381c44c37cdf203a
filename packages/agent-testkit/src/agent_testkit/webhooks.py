"""Sign GitHub webhook deliveries the way GitHub does, so tests exercise the real verification path."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from typing import Any


def sign_github_webhook(secret: str | bytes, body: str | bytes) -> str:
    """The `X-Hub-Signature-256` value for `body`: "sha256=" and the HMAC-SHA256 hex digest."""
    key = secret.encode() if isinstance(secret, str) else secret
    raw = body.encode() if isinstance(body, str) else body
    return "sha256=" + hmac.new(key, raw, hashlib.sha256).hexdigest()


def github_webhook_headers(
    secret: str | bytes, body: str | bytes, *, event: str, delivery_id: str | None = None
) -> dict[str, str]:
    """The headers GitHub sends with a delivery: event name, a delivery id (new unless given), signature."""
    return {
        "Content-Type": "application/json",
        "User-Agent": "GitHub-Hookshot/agent-testkit",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery_id or str(uuid.uuid4()),
        "X-GitHub-Hook-ID": "1",
        "X-Hub-Signature-256": sign_github_webhook(secret, body),
    }


def github_webhook(
    secret: str | bytes,
    payload: dict[str, Any] | str | bytes,
    *,
    event: str,
    delivery_id: str | None = None,
) -> tuple[bytes, dict[str, str]]:
    """The exact body bytes and the headers signing them; post both (`content=body, headers=headers`)."""
    if isinstance(payload, dict):
        body = json.dumps(payload).encode()
    else:
        body = payload.encode() if isinstance(payload, str) else payload
    return body, github_webhook_headers(secret, body, event=event, delivery_id=delivery_id)
