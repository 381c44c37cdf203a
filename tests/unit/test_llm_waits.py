"""The LLM client's pure rules: reading a provider's Retry-After, backoff, and the texts it shows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from agent_service.llm.client import MAX_PROVIDER_MESSAGE, _shorten, backoff_s, retry_after_s
from agent_service.llm.errors import LLMRateLimited, LLMTimeout


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, None),
        ({"retry-after": "3"}, 3.0),
        ({"retry-after": "0.5"}, 0.5),
        ({"retry-after": "-4"}, 0.0),
        ({"retry-after-ms": "1500"}, 1.5),
        ({"retry-after-ms": "-10"}, 0.0),
        ({"retry-after-ms": "250", "retry-after": "5"}, 0.25),
        ({"retry-after-ms": "soon", "retry-after": "5"}, 5.0),  # a bad ms falls back
        ({"retry-after-ms": "soon"}, None),
        ({"retry-after": "soon"}, None),
        ({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, 0.0),  # in the past
    ],
)
def test_retry_after_forms(headers: dict[str, str], expected: float | None) -> None:
    assert retry_after_s(headers) == expected


def test_retry_after_as_a_future_http_date() -> None:
    when = datetime.now(UTC) + timedelta(seconds=30)
    wait = retry_after_s({"retry-after": format_datetime(when, usegmt=True)})
    assert wait is not None and 28 <= wait <= 30


def test_retry_after_as_a_date_without_a_zone_is_utc() -> None:
    when = datetime.now(UTC) + timedelta(seconds=30)
    # "-0000" is RFC 2822's "no zone information": parsed to a naive datetime
    wait = retry_after_s({"retry-after": when.strftime("%a, %d %b %Y %H:%M:%S -0000")})
    assert wait is not None and 28 <= wait <= 30


@pytest.mark.parametrize(
    ("attempts", "full"), [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (5, 8.0), (6, 8.0), (20, 8.0)]
)
def test_backoff_shape_and_jitter_bounds(attempts: int, full: float) -> None:
    assert backoff_s(attempts, jitter=lambda: 0.0) == full
    assert backoff_s(attempts, jitter=lambda: 1.0) == 0.75 * full
    assert backoff_s(attempts, jitter=lambda: 0.5) == 0.875 * full
    assert 0.75 * full <= backoff_s(attempts) <= full


def test_shorten_keeps_a_short_message_and_collapses_whitespace() -> None:
    assert _shorten("  no\n such\tmodel  ") == "no such model"
    exact = "x" * MAX_PROVIDER_MESSAGE
    assert _shorten(exact) == exact


def test_shorten_cuts_a_long_message_to_the_limit() -> None:
    shortened = _shorten("y" * (MAX_PROVIDER_MESSAGE + 1))
    assert shortened == "y" * (MAX_PROVIDER_MESSAGE - 3) + "..."
    assert len(shortened) == MAX_PROVIDER_MESSAGE


@pytest.mark.parametrize(("wait", "header"), [(0.0, "1"), (0.2, "1"), (1.0, "1"), (1.01, "2")])
def test_rate_limited_asks_for_whole_seconds_at_least_one(wait: float, header: str) -> None:
    error = LLMRateLimited(wait, attempts=3)
    assert error.headers == {"Retry-After": header}
    assert f"try again in {header} s" in error.detail and "3 attempt(s)" in error.detail


@pytest.mark.parametrize(
    ("waited", "shown"), [(0.314, "0.31"), (0.05, "0.05"), (60.04, "60"), (181.26, "181.3")]
)
def test_timeout_states_the_real_wait(waited: float, shown: str) -> None:
    error = LLMTimeout(waited, attempts=3, deadline_s=60)
    assert f"we waited {shown} s over 3 attempt(s) (LLM_DEADLINE_S is 60 s)" in error.detail
