"""`X-Hub-Signature-256`: HMAC-SHA256 of the raw body, compared in constant time."""

from __future__ import annotations

import hashlib
import hmac

PREFIX = "sha256="


def sign_payload(secret: str, body: bytes) -> str:
    return PREFIX + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_webhook_signature(secret: str, body: bytes, header: str | None) -> bool:
    """True only for the exact signature GitHub computes; `hmac.compare_digest` keeps it
    constant-time, so the comparison leaks nothing about how many characters matched."""
    if not header or not header.startswith(PREFIX):
        return False
    return hmac.compare_digest(sign_payload(secret, body).encode(), header.encode())
