"""`LLMClient`: chat completions over the app's own httpx pool, with our retries and failure table.

The SDK's own retries are off (`max_retries=0`): we retry here so that what a client of the service
sees is exactly DESIGN.md's table, and so the wait between attempts goes through `sleep`, which
tests replace to never really sleep.

One deadline (`LLM_DEADLINE_S`) bounds a call with all its retries: each attempt gets what is
left of it (and at most `LLM_TIMEOUT_S`), and no wait is started that would end past it, so a hung
provider costs a client the deadline, not `LLM_TIMEOUT_S` times the attempts. A stream's deadline
bounds opening it; once chunks flow, each read is bounded by the timeout its attempt was given.

Requests go through the SDK's documented `post()` rather than `chat.completions.create()`: our
messages are already in the wire format, and `create()` re-walks every message against the SDK's
TypedDicts, a cost that grows with the history (measured: 3.6 ms a call at 20 messages, 16 ms
at 100).
Responses, streams and errors are still parsed and raised by the SDK.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import random
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar, cast

import httpx
import openai
from openai import AsyncOpenAI, RequestOptions
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from agent_service.errors import AppError
from agent_service.llm.errors import (
    LLMBadResponse,
    LLMNotConfigured,
    LLMRateLimited,
    LLMRejected,
    LLMTimeout,
    LLMUnavailable,
)
from agent_service.llm.messages import (
    ChatMessage,
    Completion,
    CompletionAssembler,
    NotACompletion,
    TextDelta,
    ToolSpec,
    completion_from_openai,
)
from agent_service.settings import Settings
from agent_service.tls import tls_context

logger = logging.getLogger("agent_service.llm")
T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]

BACKOFF_START_S = 0.5
BACKOFF_MAX_S = 8.0
MAX_PROVIDER_MESSAGE = 300


def build_http_client(settings: Settings) -> httpx.AsyncClient:
    """The process's one connection pool to the LLM provider; the app's lifespan closes it."""
    return httpx.AsyncClient(
        verify=tls_context(),
        timeout=httpx.Timeout(settings.llm_timeout_s, connect=min(settings.llm_timeout_s, 10.0)),
        limits=httpx.Limits(
            max_connections=settings.llm_max_connections,
            max_keepalive_connections=settings.llm_max_connections,
        ),
    )


class Deadline:
    """The time left for one model call and its retries, read from a monotonic `clock`."""

    def __init__(self, limit_s: float, clock: Clock) -> None:
        self.limit_s = limit_s
        self._clock = clock
        self._started = clock()

    def elapsed(self) -> float:
        return self._clock() - self._started

    def remaining(self) -> float:
        return max(0.0, self.limit_s - self.elapsed())


@dataclass(frozen=True)
class _Failure:
    """How one failed attempt is handled: retried or not, after which wait, and the error if not."""

    make_error: Callable[[int], AppError]
    retry: bool
    wait_s: float | None = None  # what the provider asked for (Retry-After)


class LLMClient:
    """Chat completions (whole or streamed) against any OpenAI-compatible base URL."""

    def __init__(
        self,
        settings: Settings,
        http_client: httpx.AsyncClient,
        *,
        sleep: Sleep = asyncio.sleep,
        clock: Clock = time.monotonic,
    ) -> None:
        # Base URL and key make the client; model, timeouts and retries are read on every call.
        self.settings = settings
        self.sleep = sleep  # the wait between attempts: the seam tests use to never sleep
        self.clock = clock  # what the deadline is measured with
        # Sent with every request over the defaults (an assistant's model, temperature, ...).
        self.request_options: dict[str, Any] = {}
        key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else ""
        self._openai: AsyncOpenAI | None = None
        if key:
            # openai >= 3 is typed for httpx2 but accepts an httpx.AsyncClient at runtime (it checks
            # for either): the pool, limits and timeouts stay ours, and httpx-level fakes see it.
            self._openai = AsyncOpenAI(
                api_key=key,
                base_url=settings.llm_base_url,
                http_client=cast(Any, http_client),
                max_retries=0,
                timeout=settings.llm_timeout_s,
            )

    def with_request_options(self, options: Mapping[str, Any]) -> LLMClient:
        """This client (its pool, key and retries) sending `options` with every request."""
        configured = copy.copy(self)
        configured.request_options = {**self.request_options, **options}
        return configured

    @property
    def configured(self) -> bool:
        return self._openai is not None

    def require_configured(self) -> AsyncOpenAI:
        """The SDK client, or 503 `llm_not_configured` saying what to set."""
        if self._openai is None:
            raise LLMNotConfigured()
        return self._openai

    async def complete(
        self,
        messages: Sequence[ChatMessage],
        tools: Sequence[ToolSpec] = (),
        *,
        response_format: dict[str, Any] | None = None,
    ) -> Completion:
        """One whole completion, retried per the failure table; `response_format` asks for
        structured output (a JSON schema), as the triage agent does."""
        sdk = self.require_configured()
        request = self._request(messages, tools)
        if response_format is not None:
            request["response_format"] = response_format

        async def attempt(timeout_s: float) -> ChatCompletion:
            return await sdk.post(
                "/chat/completions",
                cast_to=ChatCompletion,
                body=request,
                options=self._options(timeout_s),
            )

        response, _ = await self._with_retries(attempt)
        try:
            return completion_from_openai(response)
        except NotACompletion as exc:
            raise LLMBadResponse(str(exc)) from exc

    async def stream(
        self, messages: Sequence[ChatMessage], tools: Sequence[ToolSpec] = ()
    ) -> AsyncGenerator[TextDelta | Completion, None]:
        """Text deltas as they arrive, then the whole `Completion`.

        Opening the stream is retried; once chunks flow, a failure ends it with the mapped error.
        Closing this iterator early (a client went away) closes the upstream response.
        """
        sdk = self.require_configured()
        request = self._request(messages, tools) | {
            "stream": True,
            "stream_options": {"include_usage": True},
        }

        async def attempt(timeout_s: float) -> openai.AsyncStream[ChatCompletionChunk]:
            return await sdk.post(
                "/chat/completions",
                cast_to=ChatCompletion,
                body=request,
                options=self._options(timeout_s),
                stream=True,
                stream_cls=openai.AsyncStream[ChatCompletionChunk],
            )

        stream, deadline = await self._with_retries(attempt)
        assembler = CompletionAssembler()
        async with stream:
            try:
                async for chunk in stream:
                    if text := assembler.add(chunk):
                        yield TextDelta(text)
                completion = assembler.completion()
            except (openai.OpenAIError, httpx.HTTPError, ValueError) as exc:
                failure = self._classify(exc, deadline)
                if failure is None:
                    raise
                error = failure.make_error(1)
                logger.warning("LLM stream failed: %s", error.code, extra={"cause": repr(exc)})
                raise error from exc
        yield completion

    def _options(self, timeout_s: float) -> RequestOptions:
        return {"timeout": timeout_s, "security": {"bearer_auth": True}}

    def _request(
        self, messages: Sequence[ChatMessage], tools: Sequence[ToolSpec]
    ) -> dict[str, Any]:
        request: dict[str, Any] = {
            "model": self.settings.llm_model,
            "messages": [message.to_openai() for message in messages],
            **self.request_options,
        }
        if tools:
            request["tools"] = [tool.to_openai() for tool in tools]
        return request

    async def _with_retries(self, attempt: Callable[[float], Awaitable[T]]) -> tuple[T, Deadline]:
        """`attempt(timeout_s)` until it succeeds, the failure is final, or the deadline is near."""
        deadline = Deadline(self.settings.llm_deadline_s, self.clock)
        attempts = 1
        while True:
            timeout_s = min(self.settings.llm_timeout_s, deadline.remaining())
            try:
                # The SDK's timeout bounds each read; this bounds the whole attempt (a trickle).
                async with asyncio.timeout(timeout_s):
                    return await attempt(timeout_s), deadline
            except (openai.OpenAIError, httpx.HTTPError, ValueError, TimeoutError) as exc:
                failure = self._classify(exc, deadline)
                if failure is None:
                    raise
                error = exc
            wait = failure.wait_s if failure.wait_s is not None else backoff_s(attempts)
            if (
                not failure.retry
                or attempts > self.settings.llm_max_retries
                or wait > self.settings.llm_retry_max_wait_s
                or wait >= deadline.remaining()
            ):
                final = failure.make_error(attempts)
                logger.warning(
                    "LLM call failed: %s",
                    final.code,
                    extra={"attempts": attempts, "cause": repr(error)},
                )
                raise final from error
            logger.info(
                "LLM call failed, retrying in %.2f s",
                wait,
                extra={"attempt": attempts, "cause": repr(error)},
            )
            await self.sleep(wait)
            attempts += 1

    def _classify(self, exc: Exception, deadline: Deadline) -> _Failure | None:
        """Our answer to one failed attempt; None for an exception that is a bug, not the provider."""
        if isinstance(exc, openai.APITimeoutError | httpx.TimeoutException | TimeoutError):
            return _Failure(
                lambda n: LLMTimeout(deadline.elapsed(), attempts=n, deadline_s=deadline.limit_s),
                retry=True,
            )
        if isinstance(exc, openai.APIConnectionError | httpx.TransportError):
            return _Failure(lambda n: LLMUnavailable("the connection failed", attempts=n), True)
        if isinstance(exc, openai.APIStatusError):
            return _status_failure(exc)
        if isinstance(exc, NotACompletion):
            return _Failure(lambda _n: LLMBadResponse(str(exc)), retry=False)
        if isinstance(exc, openai.APIError | ValueError):
            what = "the body is not valid JSON" if isinstance(exc, ValueError) else exc.message
            return _Failure(lambda _n: LLMBadResponse(_shorten(what)), retry=False)
        return None


def _status_failure(exc: openai.APIStatusError) -> _Failure:
    status = exc.status_code
    if status == 429 and exc.code != "insufficient_quota":
        wait = retry_after_s(exc.response.headers)
        return _Failure(
            lambda n: LLMRateLimited(wait if wait is not None else backoff_s(n), attempts=n),
            retry=True,
            wait_s=wait,
        )
    if status == 429:
        return _Failure(lambda n: LLMUnavailable("its quota is used up", attempts=n), False)
    if status in (408, 409) or status >= 500:
        return _Failure(lambda n: LLMUnavailable(f"it answered HTTP {status}", attempts=n), True)
    if status in (401, 403):
        detail = f"The LLM provider refused our credentials (HTTP {status}): check LLM_API_KEY."
    else:
        detail = (
            f"The LLM provider rejected the request (HTTP {status}): {_shorten(exc.message)!r}; "
            "check LLM_MODEL and LLM_BASE_URL."
        )
    return _Failure(lambda _n: LLMRejected(detail), retry=False)


def retry_after_s(headers: Mapping[str, str]) -> float | None:
    """The wait a provider asks for: `retry-after-ms`, or `retry-after` in seconds or as a date."""
    if (ms := headers.get("retry-after-ms")) is not None:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def backoff_s(attempts: int, *, jitter: Callable[[], float] = random.random) -> float:
    """Exponential backoff with jitter, as the SDK does when the provider names no wait:
    0.5, 1, 2, 4, 8, 8... seconds after attempt 1, 2, 3..., each cut by up to a quarter."""
    base = min(BACKOFF_START_S * 2.0 ** (attempts - 1), BACKOFF_MAX_S)
    return base * (1 - 0.25 * jitter())


def _shorten(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_PROVIDER_MESSAGE else text[: MAX_PROVIDER_MESSAGE - 3] + "..."
