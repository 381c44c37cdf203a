"""Chunk pacing (`chunk_delay`) and the wait headers of `rate_limited`/`server_error`, over both transports."""

import itertools
import time
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import httpx
import openai
import pytest

from agent_testkit import FakeLLM
from agent_testkit.fake_llm.script_file import parse_item

# wire shapes, sent without the tools a real call offers: the script is not checked against requests
pytestmark = pytest.mark.fake_llm(checked=False)

MESSAGES = [{"role": "user", "content": "Hi"}]


@pytest.fixture(params=["in-process", "server"])
def fake(request: pytest.FixtureRequest) -> FakeLLM:
    return request.getfixturevalue(
        "fake_llm" if request.param == "in-process" else "fake_llm_server"
    )


async def arrival_gaps(fake: FakeLLM, *, stream: bool = True) -> list[float]:
    """Seconds between the SSE frames as a client reads them."""
    arrivals: list[float] = []
    body = {"model": "m", "messages": MESSAGES, "stream": stream}
    async with (
        httpx.AsyncClient() as client,
        client.stream("POST", f"{fake.base_url}/chat/completions", json=body) as response,
    ):
        async for line in response.aiter_lines():
            if line.startswith("data:"):
                arrivals.append(time.monotonic())
    return [later - earlier for earlier, later in itertools.pairwise(arrivals)]


def assert_paced(gaps: list[float], delay: float) -> None:
    """Spaced by `delay`: in total, and each gap (a busy loop may deliver one frame a little late)."""
    assert sum(gaps) >= delay * len(gaps) * 0.95, gaps
    assert sorted(gaps)[len(gaps) // 2] >= delay * 0.9, gaps
    assert min(gaps) >= delay * 0.5, gaps


async def test_reply_chunks_are_spaced_by_the_delay(fake: FakeLLM) -> None:
    fake.script(fake.reply("one two three", chunk_delay=0.05))
    gaps = await arrival_gaps(fake)
    assert len(gaps) >= 4  # role, three words, finish, [DONE]
    assert_paced(gaps, 0.05)


async def test_tool_call_chunks_are_spaced_by_the_delay(fake: FakeLLM) -> None:
    fake.script(
        fake.tool_call("create_task", chunk_delay=0.05, title="A title long enough to fragment"),
        fake.tool_calls([("a", {}), ("b", {"x": 1})], chunk_delay=0.05),
    )
    for _ in range(2):
        gaps = await arrival_gaps(fake)
        assert len(gaps) >= 4
        assert_paced(gaps, 0.05)


async def test_without_a_delay_chunks_come_at_once(fake: FakeLLM) -> None:
    fake.script(fake.reply("one two three four five six"))
    started = time.monotonic()
    await arrival_gaps(fake)
    assert time.monotonic() - started < 0.5


async def test_the_sdk_reads_a_paced_stream_as_it_comes(fake: FakeLLM) -> None:
    fake.script(fake.reply("one two three", chunk_delay=0.05))
    client = openai.AsyncOpenAI(base_url=fake.base_url, api_key="sk-test")
    seen: list[tuple[float, str]] = []
    async with client:
        stream = await client.chat.completions.create(model="m", messages=MESSAGES, stream=True)  # type: ignore[arg-type]
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                seen.append((time.monotonic(), chunk.choices[0].delta.content))
    assert "".join(text for _, text in seen) == "one two three"
    assert seen[-1][0] - seen[0][0] >= 0.09


async def test_a_paced_cut_stream_is_paced_until_the_cut(fake: FakeLLM) -> None:
    fake.script(fake.cut_stream(after=3, item=fake.reply("one two three four", chunk_delay=0.05)))
    started = time.monotonic()
    with pytest.raises(httpx.RemoteProtocolError):
        await arrival_gaps(fake)
    assert time.monotonic() - started >= 0.09


def test_a_negative_delay_is_refused() -> None:
    with pytest.raises(ValueError, match="chunk_delay"):
        FakeLLM.reply("Hi", chunk_delay=-1)


async def status_and_headers(fake: FakeLLM) -> tuple[int, httpx.Headers]:
    async with httpx.AsyncClient() as client:
        r = await client.post(
            f"{fake.base_url}/chat/completions", json={"model": "m", "messages": MESSAGES}
        )
    return r.status_code, r.headers


HTTP_DATE = "Wed, 21 Oct 2026 07:28:00 GMT"


@pytest.mark.parametrize(
    ("item", "retry_after", "retry_after_ms"),
    [
        (FakeLLM.rate_limited(), "0.01", None),
        (FakeLLM.rate_limited(retry_after=1.5), "1.5", None),
        (FakeLLM.rate_limited(retry_after=2), "2", None),
        (FakeLLM.rate_limited(retry_after=HTTP_DATE), HTTP_DATE, None),
        (FakeLLM.rate_limited(retry_after_ms=250), None, "250"),
        (FakeLLM.rate_limited(retry_after=3, retry_after_ms=250), "3", "250"),
        (FakeLLM.rate_limited(retry_after=None), None, None),
        (FakeLLM.server_error(503), None, None),
        (FakeLLM.server_error(503, retry_after=1), "1", None),
        (FakeLLM.server_error(503, retry_after_ms=40), None, "40"),
    ],
    ids=[
        "default",
        "seconds-fraction",
        "seconds",
        "http-date",
        "ms-alone",
        "both",
        "none",
        "5xx-none",
        "5xx-seconds",
        "5xx-ms",
    ],
)
async def test_each_wait_header_is_sent_only_when_asked(
    fake: FakeLLM, item: object, retry_after: str | None, retry_after_ms: str | None
) -> None:
    fake.script(item)  # type: ignore[arg-type]
    status, headers = await status_and_headers(fake)
    assert status in (429, 503)
    assert headers.get("retry-after") == retry_after
    assert headers.get("retry-after-ms") == retry_after_ms


async def test_a_datetime_is_sent_as_an_http_date(fake: FakeLLM) -> None:
    when = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=30)
    fake.script(fake.rate_limited(retry_after=when))
    _, headers = await status_and_headers(fake)
    assert headers["retry-after"].endswith(" GMT")
    assert parsedate_to_datetime(headers["retry-after"]) == when


def test_describe_names_what_was_asked() -> None:
    assert FakeLLM.rate_limited().describe() == "rate_limited(retry_after=0.01)"
    assert FakeLLM.rate_limited(retry_after_ms=5).describe() == "rate_limited(retry_after_ms=5)"


def test_script_files_say_the_same() -> None:
    assert parse_item({"reply": {"text": "Hi", "chunk_delay": 0.1}}) == FakeLLM.reply(
        "Hi", chunk_delay=0.1
    )
    paced = parse_item({"tool_calls": {"calls": [{"name": "a"}], "chunk_delay": 0.2}})
    assert paced == FakeLLM.tool_calls([("a", {})], chunk_delay=0.2)
    assert parse_item({"tool_call": {"name": "a", "chunk_delay": 0.2}}) == paced
    assert parse_item({"rate_limited": {"retry_after_ms": 500}}) == FakeLLM.rate_limited(
        retry_after_ms=500
    )
    assert parse_item({"rate_limited": {"retry_after": HTTP_DATE}}) == FakeLLM.rate_limited(
        retry_after=HTTP_DATE
    )
    assert parse_item({"overloaded": {}}) == FakeLLM.overloaded()
