from __future__ import annotations

from agent_service.errors import AppError, Conflict, InvalidRequest


class InvalidIdempotencyKey(InvalidRequest):
    code = "invalid_idempotency_key"

    def __init__(self) -> None:
        super().__init__(
            "The Idempotency-Key header must be 1 to 255 visible ASCII characters (a UUID is best)."
        )


class IdempotencyKeyReused(AppError):
    status_code = 422
    code = "idempotency_key_reused"

    def __init__(self, key: str) -> None:
        super().__init__(
            f"Idempotency-Key {key!r} was already used with another request (a different body "
            "or route) in the last 24 hours; use a new key for a new request."
        )


class IdempotencyKeyInUse(Conflict):
    code = "idempotency_key_in_use"

    def __init__(self, key: str) -> None:
        super().__init__(
            f"A request with Idempotency-Key {key!r} is still being processed; retry shortly "
            "to get its result.",
            headers={"Retry-After": "1"},
        )
