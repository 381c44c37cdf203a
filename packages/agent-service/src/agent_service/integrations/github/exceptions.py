"""GitHub's HTTP failures, as `httpx.HTTPStatusError` subclasses so callers can catch either."""

from __future__ import annotations

import httpx


class GitHubError(httpx.HTTPStatusError):
    """GitHub answered with an error status; `message` is GitHub's own explanation."""

    def __init__(self, message: str, *, request: httpx.Request, response: httpx.Response) -> None:
        super().__init__(message, request=request, response=response)
        self.message = message


class GitHubRateLimited(GitHubError):
    """A primary or secondary rate limit; `retry_after` is how long to wait, in seconds."""

    def __init__(
        self,
        message: str,
        *,
        retry_after: float,
        request: httpx.Request,
        response: httpx.Response,
    ) -> None:
        super().__init__(message, request=request, response=response)
        self.retry_after = retry_after
