"""The offsets `Page` links to, at the edges: the last page, past the end, the offset bound."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from starlette.requests import Request

from agent_service.pagination import MAX_OFFSET, Page
from agent_service.settings import Settings

# Links are built on PUBLIC_URL, whatever Host the request names.
SETTINGS = Settings(_env_file=None, environment="dev", public_url="https://agents.example/")  # type: ignore[call-arg]


def page(limit: int, offset: int) -> Page:
    scope = {
        "type": "http",
        "method": "GET",
        "scheme": "http",
        "server": ("testserver", 80),
        "path": "/api/tasks",
        "query_string": b"status=done",
        "headers": [(b"host", b"evil.example")],
        "app": SimpleNamespace(state=SimpleNamespace(settings=SETTINGS)),
    }
    return Page(Request(scope), limit=limit, offset=offset)


@pytest.mark.parametrize(
    ("limit", "offset", "total", "links"),
    [
        (10, 0, 0, {}),
        (10, 0, 10, {}),
        (10, 0, 11, {"next": 10, "first": 0, "last": 10}),
        (10, 10, 11, {"prev": 0, "first": 0, "last": 10}),
        (10, 5, 30, {"next": 15, "prev": 0, "first": 0, "last": 20}),
        (10, 50, 30, {"prev": 20, "first": 0, "last": 20}),
        (10, 20, 0, {"prev": 0, "first": 0, "last": 0}),
        (
            200,
            MAX_OFFSET,
            5 * MAX_OFFSET,
            {"prev": MAX_OFFSET - 200, "first": 0, "last": MAX_OFFSET},
        ),
        (
            200,
            MAX_OFFSET - 100,
            5 * MAX_OFFSET,
            {"prev": MAX_OFFSET - 300, "first": 0, "last": MAX_OFFSET},
        ),
        (
            200,
            MAX_OFFSET - 200,
            5 * MAX_OFFSET,
            {"next": MAX_OFFSET, "prev": MAX_OFFSET - 400, "first": 0, "last": MAX_OFFSET},
        ),
    ],
)
def test_links(limit: int, offset: int, total: int, links: dict[str, int]) -> None:
    assert page(limit, offset).links(total) == links


def test_a_link_keeps_the_filters() -> None:
    assert page(2, 0).url(4) == "https://agents.example/api/tasks?status=done&limit=2&offset=4"
