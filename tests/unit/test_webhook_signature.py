"""`X-Hub-Signature-256`: GitHub's own example verifies, anything else does not."""

from __future__ import annotations

import pytest

from agent_service.integrations.github.signature import sign_payload, verify_webhook_signature

# From GitHub's "Validating webhook deliveries" page: the test values it gives for implementations.
SECRET = "It's a Secret to Everybody"
BODY = b"Hello, World!"
SIGNATURE = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"


def test_githubs_example_signs_and_verifies() -> None:
    assert sign_payload(SECRET, BODY) == SIGNATURE
    assert verify_webhook_signature(SECRET, BODY, SIGNATURE)


@pytest.mark.parametrize(
    ("secret", "body", "header"),
    [
        (SECRET, BODY, None),
        (SECRET, BODY, ""),
        (SECRET, BODY, "sha256="),
        (SECRET, BODY, SIGNATURE.removeprefix("sha256=")),  # the hex alone
        (SECRET, BODY, "sha1=" + SIGNATURE.removeprefix("sha256=")),
        (SECRET, BODY, SIGNATURE.upper()),
        (SECRET, BODY, SIGNATURE[:-1]),
        (SECRET, BODY, SIGNATURE + "0"),
        (SECRET, b"Hello, World?", SIGNATURE),
        ("another secret", BODY, SIGNATURE),
    ],
    ids=[
        "missing",
        "empty",
        "prefix-only",
        "no-prefix",
        "sha1",
        "upper-case",
        "one-char-short",
        "one-char-long",
        "other-body",
        "other-secret",
    ],
)
def test_anything_else_is_refused(secret: str, body: bytes, header: str | None) -> None:
    assert not verify_webhook_signature(secret, body, header)
