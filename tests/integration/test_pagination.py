"""Every list route: a JSON array, `X-Total-Count`, a `Link` to its neighbours, bounded paging."""

from __future__ import annotations

import httpx
import pytest

from tests.factories import TestUser

USER_LISTS = ["/api/tasks", "/api/projects", "/api/conversations", "/api/documents"]
ADMIN_LISTS = ["/api/users", "/api/admin/users", "/api/integrations/github/deliveries"]


def links_of(response: httpx.Response) -> dict[str, httpx.URL]:
    """The `Link` header as {rel: url}, parsed by httpx the way a client would."""
    return {rel: httpx.URL(link["url"]) for rel, link in response.links.items()}


def page_of(url: httpx.URL) -> tuple[str | None, str | None]:
    return url.params.get("limit"), url.params.get("offset")


async def add_tasks(client: httpx.AsyncClient, user: TestUser, n: int, **fields: str) -> None:
    for i in range(n):
        r = await client.post("/api/tasks", json={"title": f"t{i}", **fields}, headers=user.headers)
        assert r.status_code == 201, r.text


@pytest.mark.parametrize("path", USER_LISTS + ADMIN_LISTS)
async def test_every_list_is_an_array_with_its_total(
    client: httpx.AsyncClient, admin: TestUser, path: str
) -> None:
    r = await client.get(path, headers=admin.headers)
    assert r.status_code == 200, r.text
    assert isinstance(r.json(), list)
    assert r.headers["x-total-count"] == str(len(r.json()))
    assert "link" not in r.headers  # one page: no neighbours


@pytest.mark.parametrize("path", USER_LISTS + ADMIN_LISTS)
@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"offset": 2**63}, "offset"),  # past a bigint: was a 500
        ({"offset": 1_000_001}, "offset"),
        ({"offset": -1}, "offset"),
        ({"limit": 0}, "limit"),
        ({"limit": 201}, "limit"),
        ({"limit": "many"}, "limit"),
    ],
)
async def test_out_of_range_paging_is_422_in_the_envelope(
    client: httpx.AsyncClient, admin: TestUser, path: str, params: dict[str, object], field: str
) -> None:
    r = await client.get(path, params=params, headers=admin.headers)
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "validation_error"
    assert [e["field"] for e in r.json()["errors"]] == [field]


async def test_the_bounds_themselves_are_accepted(
    client: httpx.AsyncClient, user: TestUser
) -> None:
    await add_tasks(client, user, 1)
    r = await client.get("/api/tasks", params={"limit": 200, "offset": 0}, headers=user.headers)
    assert r.status_code == 200 and len(r.json()) == 1
    r = await client.get("/api/tasks", params={"limit": 1, "offset": 10**6}, headers=user.headers)
    assert r.status_code == 200 and r.json() == []
    assert r.headers["x-total-count"] == "1"


async def test_default_page_is_fifty(client: httpx.AsyncClient, user: TestUser) -> None:
    await add_tasks(client, user, 51)
    r = await client.get("/api/tasks", headers=user.headers)
    assert len(r.json()) == 50 and r.headers["x-total-count"] == "51"
    assert page_of(links_of(r)["next"]) == ("50", "50")


async def test_link_walks_the_pages_with_the_filters_kept(
    client: httpx.AsyncClient, user: TestUser
) -> None:
    await add_tasks(client, user, 5, priority="high")
    await add_tasks(client, user, 2, priority="low")

    r = await client.get(
        "/api/tasks", params={"priority": "high", "limit": 2}, headers=user.headers
    )
    assert [t["title"] for t in r.json()] == ["t0", "t1"]
    assert r.headers["x-total-count"] == "5"
    links = links_of(r)
    assert set(links) == {"next", "first", "last"}  # no prev on the first page
    assert page_of(links["next"]) == ("2", "2")
    assert page_of(links["last"]) == ("2", "4")
    assert links["next"].params["priority"] == "high"
    assert links["next"].path == "/api/tasks"

    seen: list[str] = []
    url: httpx.URL | None = links["first"]
    for _ in range(5):  # bounded: three pages expected
        if url is None:
            break
        r = await client.get(url, headers=user.headers)
        seen += [t["title"] for t in r.json()]
        url = links_of(r).get("next")
    assert seen == ["t0", "t1", "t2", "t3", "t4"]

    # the last page links back, not forward
    assert set(links_of(r)) == {"prev", "first", "last"}
    assert page_of(links_of(r)["prev"]) == ("2", "2")


async def test_prev_from_an_offset_inside_the_first_page_is_zero(
    client: httpx.AsyncClient, user: TestUser
) -> None:
    await add_tasks(client, user, 4)
    r = await client.get("/api/tasks", params={"limit": 3, "offset": 1}, headers=user.headers)
    assert [t["title"] for t in r.json()] == ["t1", "t2", "t3"]
    links = links_of(r)
    assert page_of(links["prev"]) == ("3", "0")
    assert "next" not in links


async def test_prev_past_the_end_points_at_the_last_page(
    client: httpx.AsyncClient, user: TestUser
) -> None:
    await add_tasks(client, user, 3)
    r = await client.get("/api/tasks", params={"limit": 2, "offset": 100}, headers=user.headers)
    assert r.json() == [] and r.headers["x-total-count"] == "3"
    links = links_of(r)
    assert page_of(links["prev"]) == ("2", "2")
    assert page_of(links["last"]) == ("2", "2")
    assert "next" not in links


async def test_the_total_counts_only_the_callers_items(
    client: httpx.AsyncClient, user: TestUser, other_user: TestUser
) -> None:
    await add_tasks(client, user, 3)
    r = await client.get("/api/tasks", params={"limit": 1}, headers=other_user.headers)
    assert r.json() == [] and r.headers["x-total-count"] == "0" and "link" not in r.headers


async def test_a_conversations_runs_are_paginated_the_same_way(
    client: httpx.AsyncClient, user: TestUser
) -> None:
    r = await client.post(
        "/api/conversations", json={"agent_type": "assistant"}, headers=user.headers
    )
    runs = f"/api/conversations/{r.json()['id']}/runs"
    r = await client.get(runs, headers=user.headers)
    assert r.status_code == 200 and r.json() == [] and r.headers["x-total-count"] == "0"
    r = await client.get(runs, params={"offset": 2**63}, headers=user.headers)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "offset"


async def test_the_openapi_documents_arrays_and_headers(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    for path in [*USER_LISTS, *ADMIN_LISTS, "/api/conversations/{conversation_id}/runs"]:
        ok = spec["paths"][path]["get"]["responses"]["200"]
        assert ok["content"]["application/json"]["schema"]["type"] == "array", path
        assert {"X-Total-Count", "Link"} <= set(ok["headers"]), path
        params = {p["name"]: p["schema"] for p in spec["paths"][path]["get"]["parameters"]}
        assert (params["limit"]["minimum"], params["limit"]["maximum"]) == (1, 200), path
        assert (params["offset"]["minimum"], params["offset"]["maximum"]) == (0, 10**6), path
