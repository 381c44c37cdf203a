"""`LLMClient` against the kit's fake at the HTTP boundary: which failures are retried, after
which wait (Retry-After in each of its forms, or backoff), within one deadline, and what error
is left when they run out. The waits go through the client's `sleep` seam, recorded, not slept."""

from __future__ import annotations

import ast
import json
import re
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from agent_service.llm.client import LLMClient, build_http_client
from agent_service.llm.errors import (
    LLMBadResponse,
    LLMNotConfigured,
    LLMRateLimited,
    LLMRejected,
    LLMTimeout,
    LLMUnavailable,
)
from agent_service.llm.messages import ChatMessage, Completion, TextDelta
from agent_service.settings import Settings
from agent_testkit import FakeLLM
from tests.conftest import TEST_JWT_SECRET, use_fake_llm

HI = [ChatMessage("user", "Hi")]
WAITED = re.compile(
    r"we waited ([0-9.]+) s over (\d+) attempt\(s\) \(LLM_DEADLINE_S is ([0-9.]+) s\)"
)


class Waits(list[float]):
    """The client's `sleep`: records each wait and moves `now` on, as really sleeping would."""

    def __init__(self) -> None:
        super().__init__()
        self.now = 1000.0

    async def sleep(self, seconds: float) -> None:
        self.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


@pytest.fixture
def settings(fake_llm: FakeLLM, tmp_path: Path) -> Settings:
    """No database: the client alone (so these tests, and mutation runs of them, start fast)."""
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        environment="test",
        data_dir=tmp_path,
        jwt_secret=TEST_JWT_SECRET,
        llm_max_retries=2,
        llm_deadline_s=60.0,
    )
    return use_fake_llm(settings, fake_llm.base_url)


@pytest.fixture
def waits() -> Waits:
    return Waits()


@pytest.fixture
async def http(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with build_http_client(settings) as client:
        yield client


@pytest.fixture
def llm(settings: Settings, http: httpx.AsyncClient, waits: Waits) -> LLMClient:
    return LLMClient(settings, http, sleep=waits.sleep)


QUOTA_BODY = json.dumps(
    {
        "error": {
            "message": "You exceeded your current quota.",
            "type": "insufficient_quota",
            "code": "insufficient_quota",
        }
    }
)


def with_fake_clock(settings: Settings, http: httpx.AsyncClient, waits: Waits) -> LLMClient:
    return LLMClient(settings, http, sleep=waits.sleep, clock=waits.clock)


async def streamed(llm: LLMClient) -> list[TextDelta | Completion]:
    return [item async for item in llm.stream(HI)]


def waited(error: Exception) -> tuple[float, int, float]:
    match = WAITED.search(str(error))
    assert match, str(error)
    return float(match[1]), int(match[2]), float(match[3])


# Retry-After, in each form a provider sends it


async def test_retry_after_in_seconds(llm: LLMClient, fake_llm: FakeLLM, waits: Waits) -> None:
    fake_llm.script(fake_llm.rate_limited(retry_after=3), fake_llm.reply("ok"))
    assert (await llm.complete(HI)).message.content == "ok"
    assert waits == [3]


async def test_retry_after_as_an_http_date(llm: LLMClient, fake_llm: FakeLLM, waits: Waits) -> None:
    when = datetime.now(UTC) + timedelta(seconds=12)
    fake_llm.script(fake_llm.rate_limited(retry_after=when), fake_llm.reply("ok"))
    await llm.complete(HI)
    [wait] = waits
    assert 10 <= wait <= 12  # the date has whole seconds, and the request took a moment


async def test_retry_after_ms_alone(llm: LLMClient, fake_llm: FakeLLM, waits: Waits) -> None:
    fake_llm.script(fake_llm.rate_limited(retry_after_ms=1500), fake_llm.reply("ok"))
    await llm.complete(HI)
    assert waits == [1.5]


async def test_retry_after_ms_wins_over_seconds(
    llm: LLMClient, fake_llm: FakeLLM, waits: Waits
) -> None:
    fake_llm.script(fake_llm.rate_limited(retry_after=5, retry_after_ms=250), fake_llm.reply("ok"))
    await llm.complete(HI)
    assert waits == [0.25]


async def test_a_429_without_a_wait_backs_off(
    llm: LLMClient, fake_llm: FakeLLM, waits: Waits
) -> None:
    fake_llm.script(fake_llm.rate_limited(retry_after=None), fake_llm.reply("ok"))
    await llm.complete(HI)
    [wait] = waits
    assert 0.375 <= wait <= 0.5


@pytest.mark.parametrize(("retry_after", "header"), [(0.2, "1"), (1.2, "2"), (3, "3")])
async def test_429_exhausted_passes_the_wait_on_in_whole_seconds_at_least_one(
    llm: LLMClient, fake_llm: FakeLLM, waits: Waits, retry_after: float, header: str
) -> None:
    fake_llm.script(*[fake_llm.rate_limited(retry_after=retry_after)] * 3)
    with pytest.raises(LLMRateLimited) as caught:
        await llm.complete(HI)
    assert caught.value.headers == {"Retry-After": header}
    assert f"try again in {header} s" in caught.value.detail
    assert "3 attempt(s)" in caught.value.detail
    assert waits == [retry_after] * 2


async def test_429_exhausted_without_a_wait_suggests_the_backoff(
    llm: LLMClient, fake_llm: FakeLLM, waits: Waits
) -> None:
    fake_llm.script(*[fake_llm.rate_limited(retry_after=None)] * 3)
    with pytest.raises(LLMRateLimited) as caught:
        await llm.complete(HI)
    assert caught.value.headers == {"Retry-After": "2"}  # backoff after a third attempt: 1.5-2 s


# Backoff: its shape and its jitter


async def test_backoff_doubles_from_half_a_second_with_up_to_a_quarter_off(
    settings: Settings, llm: LLMClient, fake_llm: FakeLLM, waits: Waits
) -> None:
    settings.llm_max_retries = 4
    fake_llm.script(*[fake_llm.server_error(503)] * 4, fake_llm.reply("ok"))
    await llm.complete(HI)
    assert len(waits) == 4
    for wait, full in zip(waits, [0.5, 1.0, 2.0, 4.0], strict=True):
        assert 0.75 * full <= wait <= full, waits


# Which statuses are retried


@pytest.mark.parametrize("status", [408, 409, 500, 502, 503])
async def test_retried_statuses(
    llm: LLMClient, fake_llm: FakeLLM, waits: Waits, status: int
) -> None:
    fake_llm.script(fake_llm.server_error(status), fake_llm.reply("ok"))
    assert (await llm.complete(HI)).message.content == "ok"
    assert len(fake_llm.calls) == 2 and len(waits) == 1


@pytest.mark.parametrize("status", [408, 409, 500])
async def test_retried_statuses_exhausted_are_unavailable(
    llm: LLMClient, fake_llm: FakeLLM, waits: Waits, status: int
) -> None:
    fake_llm.script(*[fake_llm.server_error(status)] * 3)
    with pytest.raises(LLMUnavailable) as caught:
        await llm.complete(HI)
    assert f"it answered HTTP {status} (3 attempt(s))" in caught.value.detail
    assert len(fake_llm.calls) == 3


@pytest.mark.parametrize("status", [400, 404, 422])
async def test_rejected_requests_are_not_retried(
    llm: LLMClient, fake_llm: FakeLLM, waits: Waits, status: int
) -> None:
    fake_llm.script(fake_llm.server_error(status))
    with pytest.raises(LLMRejected) as caught:
        await llm.complete(HI)
    assert f"(HTTP {status})" in caught.value.detail and "LLM_MODEL" in caught.value.detail
    assert len(fake_llm.calls) == 1 and waits == []


async def test_a_long_provider_message_is_shortened_and_its_whitespace_collapsed(
    llm: LLMClient, fake_llm: FakeLLM
) -> None:
    message = "The model   does not\texist: " + "very long explanation " * 100
    body = {"error": {"message": message, "type": "invalid_request_error", "code": None}}
    fake_llm.script(fake_llm.malformed(json.dumps(body), status=404))
    with pytest.raises(LLMRejected) as caught:
        await llm.complete(HI)
    quoted = caught.value.detail.split("(HTTP 404): ", 1)[1].rsplit("; check", 1)[0]
    shown = ast.literal_eval(quoted)
    assert len(shown) == 300 and shown.endswith("...")
    assert "The model does not exist: very long" in shown
    assert "  " not in shown and "\t" not in shown


# A 200 that is not a completion: never retried


async def test_a_streamed_200_that_is_not_a_completion_is_a_bad_response(
    llm: LLMClient, fake_llm: FakeLLM, waits: Waits
) -> None:
    fake_llm.script(fake_llm.malformed('{"object": "list", "data": []}'))
    with pytest.raises(LLMBadResponse) as caught:
        await streamed(llm)
    assert "not a completion" in caught.value.detail
    assert len(fake_llm.calls) == 1 and waits == []


async def test_a_stream_is_reopened_after_a_5xx(
    llm: LLMClient, fake_llm: FakeLLM, waits: Waits
) -> None:
    fake_llm.script(fake_llm.server_error(502), fake_llm.reply("Hello there."))
    items = await streamed(llm)
    assert "".join(i.text for i in items if isinstance(i, TextDelta)) == "Hello there."
    assert isinstance(items[-1], Completion) and len(waits) == 1


# One deadline for a call and its retries


async def test_a_hung_provider_costs_the_deadline_not_the_timeout_times_attempts(
    settings: Settings, llm: LLMClient, fake_llm: FakeLLM, waits: Waits
) -> None:
    settings.llm_timeout_s = 5.0
    settings.llm_deadline_s = 0.3
    settings.llm_max_retries = 5
    fake_llm.script(fake_llm.timeout())
    started = time.monotonic()
    with pytest.raises(LLMTimeout) as caught:
        await llm.complete(HI)
    elapsed = time.monotonic() - started
    seconds, attempts, deadline = waited(caught.value)
    assert (attempts, deadline) == (1, 0.3)
    # cut by the deadline, not by one attempt's 5 s timeout (the detail shows two digits)
    assert 0.3 <= seconds <= elapsed + 0.01 and seconds < settings.llm_timeout_s
    assert waits == []


async def test_retries_share_the_deadline(
    settings: Settings, llm: LLMClient, fake_llm: FakeLLM, waits: Waits
) -> None:
    settings.llm_timeout_s = 0.3
    settings.llm_deadline_s = 1.0
    settings.llm_max_retries = 5
    # 0.3 s hang, a backoff of at most 0.5 s (recorded, not slept), 0.3 s hang: 0.4 s are left,
    # fewer than the next backoff (at least 0.75 s), so no third attempt starts.
    fake_llm.script(fake_llm.timeout(), fake_llm.timeout())
    started = time.monotonic()
    with pytest.raises(LLMTimeout) as caught:
        await llm.complete(HI)
    elapsed = time.monotonic() - started
    seconds, attempts, deadline = waited(caught.value)
    assert (attempts, deadline) == (2, 1.0)
    assert 0.6 <= seconds <= elapsed + 0.05  # two hangs; a third attempt is counted above
    assert len(waits) == 1


async def test_the_last_attempt_gets_only_what_is_left(
    settings: Settings, http: httpx.AsyncClient, fake_llm: FakeLLM, waits: Waits
) -> None:
    """A 4 s wait in a 4.25 s deadline leaves 0.25 s for the next attempt, though one may take 5."""
    settings.llm_timeout_s = 5.0
    settings.llm_deadline_s = 4.25
    llm = with_fake_clock(settings, http, waits)
    fake_llm.script(fake_llm.rate_limited(retry_after=4), fake_llm.timeout())
    started = time.monotonic()
    with pytest.raises(LLMTimeout) as caught:
        await llm.complete(HI)
    assert time.monotonic() - started < 2.0  # the second attempt was cut to 0.25 s
    seconds, attempts, _ = waited(caught.value)
    assert (seconds, attempts) == (4, 2)  # as the (fake) clock measured it: the wait alone
    assert waits == [4]


async def test_a_stream_that_never_opens_ends_after_the_deadline(
    settings: Settings, llm: LLMClient, fake_llm: FakeLLM
) -> None:
    settings.llm_timeout_s = 5.0
    settings.llm_deadline_s = 0.3
    fake_llm.script(fake_llm.timeout())
    started = time.monotonic()
    with pytest.raises(LLMTimeout) as caught:
        await streamed(llm)
    assert time.monotonic() - started < 2.0
    assert waited(caught.value)[1:] == (1, 0.3)


async def test_a_wait_that_would_end_past_the_deadline_is_not_started(
    settings: Settings, llm: LLMClient, fake_llm: FakeLLM, waits: Waits
) -> None:
    settings.llm_deadline_s = 1.0
    fake_llm.script(fake_llm.rate_limited(retry_after=2))
    with pytest.raises(LLMRateLimited) as caught:
        await llm.complete(HI)
    assert caught.value.headers == {"Retry-After": "2"}
    assert len(fake_llm.calls) == 1 and waits == []


async def test_waits_count_against_the_deadline(
    settings: Settings, http: httpx.AsyncClient, fake_llm: FakeLLM, waits: Waits
) -> None:
    """Two 4 s waits fit in 10 s; a third would end past it, so the third 429 is the answer."""
    settings.llm_deadline_s = 10.0
    settings.llm_max_retries = 5
    llm = with_fake_clock(settings, http, waits)
    fake_llm.script(*[fake_llm.rate_limited(retry_after=4)] * 3)
    with pytest.raises(LLMRateLimited):
        await llm.complete(HI)
    assert waits == [4, 4] and len(fake_llm.calls) == 3


async def test_the_retry_cap_still_applies_inside_the_deadline(
    settings: Settings, llm: LLMClient, fake_llm: FakeLLM, waits: Waits
) -> None:
    settings.llm_retry_max_wait_s = 10
    fake_llm.script(fake_llm.rate_limited(retry_after=11))
    with pytest.raises(LLMRateLimited):
        await llm.complete(HI)
    assert waits == [] and len(fake_llm.calls) == 1


async def test_a_wait_as_long_as_the_cap_is_still_waited(
    settings: Settings, llm: LLMClient, fake_llm: FakeLLM, waits: Waits
) -> None:
    settings.llm_retry_max_wait_s = 10
    fake_llm.script(fake_llm.rate_limited(retry_after=10), fake_llm.reply("ok"))
    await llm.complete(HI)
    assert waits == [10]


async def test_a_wait_that_would_end_exactly_at_the_deadline_is_not_started(
    settings: Settings, http: httpx.AsyncClient, fake_llm: FakeLLM, waits: Waits
) -> None:
    """After 4 s of an 8 s deadline, a 4 s wait would leave no time for the attempt after it."""
    settings.llm_deadline_s = 8.0
    settings.llm_max_retries = 5
    llm = with_fake_clock(settings, http, waits)
    fake_llm.script(*[fake_llm.rate_limited(retry_after=4)] * 2)
    with pytest.raises(LLMRateLimited):
        await llm.complete(HI)
    assert waits == [4] and len(fake_llm.calls) == 2


# Other failures, each once


async def test_a_dropped_connection_is_retried(
    llm: LLMClient, fake_llm: FakeLLM, waits: Waits
) -> None:
    fake_llm.script(fake_llm.disconnect(), fake_llm.reply("ok"))
    assert (await llm.complete(HI)).message.content == "ok"
    assert len(fake_llm.calls) == 2 and len(waits) == 1


async def test_an_exhausted_quota_is_not_retried(
    llm: LLMClient, fake_llm: FakeLLM, waits: Waits
) -> None:
    fake_llm.script(fake_llm.malformed(QUOTA_BODY, status=429))
    with pytest.raises(LLMUnavailable) as caught:
        await llm.complete(HI)
    assert "its quota is used up (1 attempt(s))" in caught.value.detail
    assert len(fake_llm.calls) == 1 and waits == []


@pytest.mark.parametrize("status", [401, 403])
async def test_refused_credentials_point_at_the_key(
    llm: LLMClient, fake_llm: FakeLLM, waits: Waits, status: int
) -> None:
    fake_llm.script(fake_llm.server_error(status))
    with pytest.raises(LLMRejected) as caught:
        await llm.complete(HI)
    assert caught.value.detail == (
        f"The LLM provider refused our credentials (HTTP {status}): check LLM_API_KEY."
    )
    assert len(fake_llm.calls) == 1 and waits == []


@pytest.mark.parametrize(
    "body", ['{"choices": [{"message": ', "<html>oops</html>", '{"object": "list", "data": []}']
)
async def test_a_whole_200_that_is_not_a_completion_is_not_retried(
    llm: LLMClient, fake_llm: FakeLLM, waits: Waits, body: str
) -> None:
    fake_llm.script(fake_llm.malformed(body))
    with pytest.raises(LLMBadResponse):
        await llm.complete(HI)
    assert len(fake_llm.calls) == 1 and waits == []


async def test_a_stream_cut_midway_is_one_attempt_unavailable(
    llm: LLMClient, fake_llm: FakeLLM, waits: Waits
) -> None:
    fake_llm.script(fake_llm.cut_stream(after=2))
    with pytest.raises(LLMUnavailable) as caught:
        await streamed(llm)
    assert "(1 attempt(s))" in caught.value.detail
    assert len(fake_llm.calls) == 1 and waits == []


# What is sent


async def test_the_request_carries_the_key_the_model_and_what_was_asked(
    settings: Settings, llm: LLMClient, fake_llm: FakeLLM
) -> None:
    schema = {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}}
    fake_llm.script(fake_llm.reply("{}"), fake_llm.reply("plain"))
    await llm.complete(HI, response_format=schema)
    await llm.complete(HI)
    first, second = fake_llm.calls
    assert first.headers["authorization"] == "Bearer test-llm-key"
    assert first.request["model"] == settings.llm_model
    assert first.request["response_format"] == schema
    assert "response_format" not in second.request and "stream" not in second.request


async def test_a_stream_asks_for_usage_and_reports_it(llm: LLMClient, fake_llm: FakeLLM) -> None:
    fake_llm.script(fake_llm.reply("Hello."))
    *_, completion = await streamed(llm)
    [call] = fake_llm.calls
    assert call.request["stream"] is True
    assert call.request["stream_options"] == {"include_usage": True}
    assert isinstance(completion, Completion)
    assert completion.usage.completion_tokens > 0 and completion.usage.prompt_tokens > 0


async def test_without_a_key_nothing_is_sent(
    settings: Settings, http: httpx.AsyncClient, fake_llm: FakeLLM
) -> None:
    assert LLMClient(settings, http).configured is True
    settings.llm_api_key = None
    unconfigured = LLMClient(settings, http)
    assert unconfigured.configured is False
    with pytest.raises(LLMNotConfigured):
        await unconfigured.complete(HI)
    assert fake_llm.calls == []


def test_the_pool_times_out_connecting_within_ten_seconds(settings: Settings) -> None:
    settings.llm_timeout_s = 60
    client = build_http_client(settings)
    assert (client.timeout.connect, client.timeout.read) == (10.0, 60)
    settings.llm_timeout_s = 3
    assert build_http_client(settings).timeout.connect == 3
