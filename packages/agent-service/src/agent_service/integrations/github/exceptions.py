"""GitHub's HTTP failures (as `httpx.HTTPStatusError` subclasses) and the webhook's client errors."""

from __future__ import annotations

import httpx

from agent_service.errors import AppError, InvalidRequest, PayloadTooLarge, Unauthenticated


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


class InvalidSignature(Unauthenticated):
    code = "invalid_signature"

    def __init__(self) -> None:
        AppError.__init__(
            self,
            "X-Hub-Signature-256 is missing or does not match the body for the configured secret.",
        )


class WebhookNotConfigured(AppError):
    status_code = 503
    code = "webhook_not_configured"

    def __init__(self) -> None:
        super().__init__("GitHub webhooks are off: set GITHUB_WEBHOOK_SECRET to turn them on.")


class WebhookTooLarge(PayloadTooLarge):
    code = "payload_too_large"

    def __init__(self, limit: int) -> None:
        super().__init__(f"Webhook body too large: the limit is {limit} bytes.")


class InvalidWebhook(InvalidRequest):
    code = "invalid_webhook"
