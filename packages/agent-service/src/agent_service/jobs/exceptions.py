"""How a job handler says what went wrong; the message is stored and may be shown to a person.

    JobError
    ├── PermanentJobError   retrying cannot help (a corrupted file): fail at once
    └── RetryableJobError   may pass on a later attempt (a provider down): retry with backoff
    JobInterrupted          the runner is stopping: the job is released, its attempt uncounted

Any other exception is retried too, but its text is kept out of what users see (it may hold SQL).
"""

from __future__ import annotations


class JobError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class PermanentJobError(JobError):
    """The job cannot succeed, however often it is tried."""


class RetryableJobError(JobError):
    """A failure that a later attempt may not meet; `retry_after_s` asks for at least that wait
    (a provider's Retry-After) instead of the usual backoff, when it is longer."""

    def __init__(self, message: str, *, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class JobInterrupted(Exception):
    """Raised by a handler between two steps when its runner is stopping (`context.stopping`).

    Stopping there, with no transaction open, is why it exists: a task cancelled inside a database
    call leaves its connection to the garbage collector, still holding its locks (a PostgreSQL row
    lock, SQLite's write lock) until then. The job is released for the next runner.
    """
