"""What a failed model call looks like to our clients: DESIGN.md's "LLM failures" table.

llm_not_configured  503  no LLM_API_KEY
llm_rate_limited    429  the provider kept answering 429 (Retry-After passed on)
llm_timeout         503  no answer within LLM_TIMEOUT_S an attempt, LLM_DEADLINE_S in all
llm_unavailable     503  connection errors and 5xx, after the retries
llm_rejected        502  the provider refused the request (4xx other than 429)
llm_bad_response    500  a 200 whose body is not a chat completion (not retried)
"""

from __future__ import annotations

import math

from agent_service.errors import InternalError, RateLimited, UpstreamError


class LLMNotConfigured(UpstreamError):
    code = "llm_not_configured"

    def __init__(self) -> None:
        super().__init__(
            "No LLM is configured: set LLM_API_KEY (and LLM_BASE_URL and LLM_MODEL for a provider "
            "other than OpenAI, e.g. a local Ollama or vLLM server), then restart the service; "
            "or try it offline with `agent-service serve --llm demo`."
        )


class LLMRateLimited(RateLimited):
    code = "llm_rate_limited"

    def __init__(self, retry_after_s: float, *, attempts: int) -> None:
        seconds = max(1, math.ceil(retry_after_s))
        super().__init__(
            f"The LLM provider is rate limiting us ({attempts} attempt(s) answered 429); "
            f"try again in {seconds} s.",
            headers={"Retry-After": str(seconds)},
        )


class LLMTimeout(UpstreamError):
    code = "llm_timeout"

    def __init__(self, waited_s: float, *, attempts: int, deadline_s: float) -> None:
        super().__init__(
            f"The LLM provider did not answer: we waited {_seconds(waited_s)} s over "
            f"{attempts} attempt(s) (LLM_DEADLINE_S is {deadline_s:g} s); try again, or raise "
            "LLM_TIMEOUT_S and LLM_DEADLINE_S."
        )


def _seconds(value: float) -> str:
    """A wait as a person reads it: 0.314 -> "0.31", 60.04 -> "60", 181.26 -> "181.3"."""
    return f"{value:.2g}" if value < 1 else f"{round(value, 1):g}"


class LLMUnavailable(UpstreamError):
    code = "llm_unavailable"

    def __init__(self, what: str, *, attempts: int = 1) -> None:
        super().__init__(
            f"The LLM provider is unavailable: {what} ({attempts} attempt(s)); try again shortly."
        )


class LLMRejected(UpstreamError):
    status_code = 502
    code = "llm_rejected"


class LLMBadResponse(InternalError):
    code = "llm_bad_response"

    def __init__(self, what: str) -> None:
        super().__init__(
            f"The LLM provider answered with something that is not a completion: {what}."
        )
