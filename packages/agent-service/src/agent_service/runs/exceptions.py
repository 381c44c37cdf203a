from __future__ import annotations

from typing import Any

from agent_service.errors import AppError, Conflict, InvalidRequest, NotFound, UpstreamError


class RunNotFound(NotFound):
    code = "run_not_found"

    def __init__(self, run_id: object) -> None:
        super().__init__(f"Run {str(run_id)!r} not found.")


class RunInProgress(Conflict):
    code = "run_in_progress"

    def __init__(self, run_id: object) -> None:
        super().__init__(
            f"Run {str(run_id)!r} of this conversation is still active. Wait for it, cancel it "
            "(POST /api/runs/{id}/cancel), or send multitask_strategy 'enqueue', 'interrupt' or "
            "'rollback'."
        )


class RunNotAwaitingApproval(Conflict):
    code = "run_not_awaiting_approval"

    def __init__(self, run_id: object, status: str) -> None:
        super().__init__(f"Run {str(run_id)!r} is {status!r}: it has no tool calls to approve.")


class RunNotLatest(Conflict):
    code = "run_not_latest"

    def __init__(self, run_id: object) -> None:
        super().__init__(
            f"Run {str(run_id)!r} is not the conversation's latest run: only the latest one can "
            "be rolled back."
        )


class DecisionsMismatch(InvalidRequest):
    code = "decisions_mismatch"

    def __init__(self, expected: list[str], given: list[str]) -> None:
        super().__init__(
            f"Give exactly one decision per pending tool call: expected {sorted(expected)}, "
            f"got {sorted(given)}."
        )


class Overloaded(UpstreamError):
    code = "overloaded"

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"This server is already running {limit} turns (MAX_ACTIVE_TURNS); retry in a moment.",
            headers={"Retry-After": "1"},
        )


class StoredRunError(AppError):
    """A run's failure as stored, raised again for the JSON reply of the turn that waited on it."""

    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(str(error.get("detail", "")), headers=error.get("headers") or None)
        self.status_code = int(error.get("status_code", 500))  # type: ignore[misc]
        self.code = str(error.get("error", "internal_error"))  # type: ignore[misc]


class UsageNotCounted(Exception):
    """The database refused the token count written with a run's answer (not an HTTP error: the
    executor stores the answer again without it, then counts the tokens in a transaction of their
    own)."""


class RunLost(Exception):
    """The run's status moved under its driver (ended by a cancel, a sweep or another replica):
    the driver's write is rolled back and the run left as the other side ended it."""

    def __init__(self, run_id: object) -> None:
        super().__init__(f"run {run_id} is no longer this process's to end")
