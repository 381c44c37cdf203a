"""SSE parsing, GitHub webhook signing and before/after state assertions."""

import hashlib
import hmac
import json

import httpx
import pytest

from agent_testkit import (
    SSEEvent,
    SSEParser,
    aiter_sse,
    assert_changes,
    assert_unchanged,
    github_webhook,
    github_webhook_headers,
    iter_sse,
    parse_sse,
    sign_github_webhook,
)

BODY = (
    ": heartbeat\n\n"
    'event: message.delta\ndata: {"delta": "Hel"}\n\n'
    'event: message.delta\r\ndata: {"delta": "lo"}\r\n\r\n'
    'id: 7\nevent: message.completed\ndata: {"response": "Hello",\ndata:  "usage": {}}\n\n'
    "data: plain\n\n"
    "event: unfinished\ndata: dropped"
)


def test_parse_whole_body():
    events = parse_sse(BODY)
    assert [e.event for e in events] == [
        "message.delta",
        "message.delta",
        "message.completed",
        "message",
    ]
    assert events[0].json() == {"delta": "Hel"}
    assert events[2].json() == {"response": "Hello", "usage": {}}
    assert (events[2].id, events[3].id) == ("7", "7")  # the last id carries over
    assert events[3] == SSEEvent("message", "plain", "7")


def test_feed_in_arbitrary_pieces_gives_the_same_events():
    parser = SSEParser()
    events = [e for i in range(0, len(BODY), 3) for e in parser.feed(BODY[i : i + 3])]
    assert events == parse_sse(BODY)
    assert parser.comments == ["heartbeat"]


def sse_app_transport(body: str) -> httpx.MockTransport:
    return httpx.MockTransport(
        lambda r: httpx.Response(200, text=body, headers={"content-type": "text/event-stream"})
    )


def test_iter_sse_sync():
    with (
        httpx.Client(transport=sse_app_transport(BODY)) as client,
        client.stream("GET", "http://t/") as r,
    ):
        assert [e.event for e in iter_sse(r)][:2] == ["message.delta", "message.delta"]


async def test_aiter_sse_async():
    async with (
        httpx.AsyncClient(transport=sse_app_transport(BODY)) as client,
        client.stream("GET", "http://t/") as r,
    ):
        assert len([e async for e in aiter_sse(r)]) == 4


def test_github_signature_matches_githubs_documented_example():
    # From GitHub's docs, "Validating webhook deliveries": secret "It's a Secret to Everybody".
    signature = sign_github_webhook("It's a Secret to Everybody", "Hello, World!")
    assert signature == "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"


def test_webhook_headers_and_body():
    body, headers = github_webhook(
        "s3cret", {"action": "opened"}, event="issues", delivery_id="d-1"
    )
    assert json.loads(body) == {"action": "opened"}
    expected = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert headers["X-Hub-Signature-256"] == expected
    assert (headers["X-GitHub-Event"], headers["X-GitHub-Delivery"]) == ("issues", "d-1")
    fresh = github_webhook_headers("s3cret", body, event="ping")
    assert (
        fresh["X-GitHub-Delivery"]
        != github_webhook_headers("s3cret", body, event="ping")["X-GitHub-Delivery"]
    )


def test_assert_changes_by_from_to():
    rows = []
    with assert_changes(lambda: len(rows), from_=0, to=1, by=1) as change:
        rows.append("task")
    assert (change.before, change.after) == (0, 1)


def test_assert_changes_says_what_happened():
    def count_tasks():
        return 3

    with (
        pytest.raises(
            AssertionError,
            match=r"expected count_tasks\(\) to change by 1, but it went from 3 to 3",
        ),
        assert_changes(count_tasks, by=1),
    ):
        pass
    with (
        pytest.raises(AssertionError, match="to change, but it stayed 3"),
        assert_changes(count_tasks),
    ):
        pass


def test_assert_unchanged():
    rows = ["a"]
    with (
        pytest.raises(
            AssertionError, match=r"to stay \['a'\], but it went from \['a'\] to \['a', 'b'\]"
        ),
        assert_unchanged(lambda: list(rows)),
    ):
        rows.append("b")


async def test_async_probe():
    rows = []

    async def count_rows():
        return len(rows)

    async with assert_changes(count_rows, to=2):
        rows += ["a", "b"]
    with pytest.raises(TypeError, match="use `async with`"), assert_changes(count_rows):
        pass
