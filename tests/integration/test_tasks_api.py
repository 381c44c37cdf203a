"""/api/tasks: create, read, filter, change, delete; ownership and validation rules."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.factories import UNKNOWN_ID, TestUser


async def create_task(client: httpx.AsyncClient, user: TestUser, **fields: object) -> dict:
    r = await client.post("/api/tasks", json={"title": "A task", **fields}, headers=user.headers)
    assert r.status_code == 201, r.text
    return r.json()


async def create_project(client: httpx.AsyncClient, user: TestUser, name: str = "P") -> dict:
    r = await client.post("/api/projects", json={"name": name}, headers=user.headers)
    assert r.status_code == 201, r.text
    return r.json()


async def test_create_read_update_delete(client: httpx.AsyncClient, user: TestUser) -> None:
    task = await create_task(client, user, title="  Write tests  ", description="All of them")
    assert task["title"] == "Write tests"
    assert (task["priority"], task["status"], task["project_id"]) == ("medium", "pending", None)
    assert task["created_at"] and task["updated_at"]

    r = await client.get(f"/api/tasks/{task['id']}", headers=user.headers)
    assert r.status_code == 200 and r.json() == task

    r = await client.patch(
        f"/api/tasks/{task['id']}",
        json={"status": "in_progress", "priority": "high"},
        headers=user.headers,
    )
    assert r.status_code == 200
    assert (r.json()["status"], r.json()["priority"]) == ("in_progress", "high")
    assert r.json()["title"] == "Write tests"

    r = await client.delete(f"/api/tasks/{task['id']}", headers=user.headers)
    assert r.status_code == 204
    r = await client.get(f"/api/tasks/{task['id']}", headers=user.headers)
    assert r.status_code == 404 and r.json()["error"] == "task_not_found"


async def test_list_filters_and_pagination(client: httpx.AsyncClient, user: TestUser) -> None:
    project = await create_project(client, user)
    await create_task(client, user, title="one", priority="high")
    await create_task(client, user, title="two", status="done")
    await create_task(client, user, title="three", project_id=project["id"])

    async def titles(**params: str) -> list[str]:
        r = await client.get("/api/tasks", params=params, headers=user.headers)
        assert r.status_code == 200, r.text
        return [t["title"] for t in r.json()]

    assert await titles() == ["one", "two", "three"]
    assert await titles(priority="high") == ["one"]
    assert await titles(status="done") == ["two"]
    assert await titles(project_id=project["id"]) == ["three"]
    assert await titles(project_id=str(uuid.uuid4())) == []
    assert await titles(project_id="not-an-id") == []

    r = await client.get("/api/tasks", params={"limit": 2, "offset": 1}, headers=user.headers)
    assert [t["title"] for t in r.json()] == ["two", "three"]
    assert r.headers["x-total-count"] == "3"


async def test_bad_filter_value_is_422(client: httpx.AsyncClient, user: TestUser) -> None:
    r = await client.get("/api/tasks", params={"status": "later"}, headers=user.headers)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "status"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"title": ""}, "title"),
        ({"title": "   "}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"title": "ok", "priority": "urgent"}, "priority"),
        ({"title": "ok", "status": "blocked"}, "status"),
        ({"title": "ok", "colour": "red"}, "colour"),
        ({}, "title"),
    ],
)
async def test_create_validation_is_422(
    client: httpx.AsyncClient, user: TestUser, payload: dict, field: str
) -> None:
    r = await client.post("/api/tasks", json=payload, headers=user.headers)
    assert r.status_code == 422
    assert r.json()["error"] == "validation_error"
    assert [e["field"] for e in r.json()["errors"]] == [field]


async def test_patch_refuses_null_for_required_fields(
    client: httpx.AsyncClient, user: TestUser
) -> None:
    task = await create_task(client, user)
    r = await client.patch(f"/api/tasks/{task['id']}", json={"title": None}, headers=user.headers)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "title"


async def test_file_and_unfile_under_a_project(client: httpx.AsyncClient, user: TestUser) -> None:
    project = await create_project(client, user)
    task = await create_task(client, user)
    r = await client.patch(
        f"/api/tasks/{task['id']}", json={"project_id": project["id"]}, headers=user.headers
    )
    assert r.json()["project_id"] == project["id"]
    r = await client.patch(
        f"/api/tasks/{task['id']}", json={"project_id": None}, headers=user.headers
    )
    assert r.status_code == 200 and r.json()["project_id"] is None


@pytest.mark.parametrize("task_id", [UNKNOWN_ID, "not-a-uuid", "1"])
async def test_unknown_or_malformed_id_is_404(
    client: httpx.AsyncClient, user: TestUser, task_id: str
) -> None:
    for method in ("GET", "PATCH", "DELETE"):
        kwargs = {"json": {"title": "x"}} if method == "PATCH" else {}
        r = await client.request(method, f"/api/tasks/{task_id}", headers=user.headers, **kwargs)
        assert r.status_code == 404, (method, r.text)
        assert r.json()["error"] == "task_not_found"


async def test_another_users_task_is_404_and_invisible(
    client: httpx.AsyncClient, user: TestUser, other_user: TestUser
) -> None:
    task = await create_task(client, user, title="mine")
    for method in ("GET", "PATCH", "DELETE"):
        kwargs = {"json": {"title": "stolen"}} if method == "PATCH" else {}
        r = await client.request(
            method, f"/api/tasks/{task['id']}", headers=other_user.headers, **kwargs
        )
        assert r.status_code == 404, method
    r = await client.get("/api/tasks", headers=other_user.headers)
    assert r.json() == [] and r.headers["x-total-count"] == "0"
    r = await client.get(f"/api/tasks/{task['id']}", headers=user.headers)
    assert r.json()["title"] == "mine"


async def test_another_users_project_cannot_hold_my_task(
    client: httpx.AsyncClient, user: TestUser, other_user: TestUser
) -> None:
    theirs = await create_project(client, other_user)
    r = await client.post(
        "/api/tasks", json={"title": "x", "project_id": theirs["id"]}, headers=user.headers
    )
    assert r.status_code == 404 and r.json()["error"] == "project_not_found"
    task = await create_task(client, user)
    r = await client.patch(
        f"/api/tasks/{task['id']}", json={"project_id": theirs["id"]}, headers=user.headers
    )
    assert r.status_code == 404


async def test_requires_a_token(client: httpx.AsyncClient) -> None:
    for method, path in [
        ("GET", "/api/tasks"),
        ("POST", "/api/tasks"),
        ("GET", f"/api/tasks/{uuid.uuid4()}"),
    ]:
        r = await client.request(method, path, json={"title": "x"})
        assert r.status_code == 401, path
        assert r.json()["error"] == "unauthenticated"


async def test_a_due_date_is_set_changed_and_cleared(
    client: httpx.AsyncClient, user: TestUser
) -> None:
    r = await client.post(
        "/api/tasks", json={"title": "File taxes", "due_date": "2027-04-15"}, headers=user.headers
    )
    assert r.status_code == 201 and r.json()["due_date"] == "2027-04-15"
    task_url = f"/api/tasks/{r.json()['id']}"
    r = await client.patch(task_url, json={"due_date": "2027-04-30"}, headers=user.headers)
    assert r.json()["due_date"] == "2027-04-30"
    r = await client.patch(task_url, json={"title": "File the taxes"}, headers=user.headers)
    assert r.json()["due_date"] == "2027-04-30"  # left out: kept
    r = await client.patch(task_url, json={"due_date": None}, headers=user.headers)
    assert r.json()["due_date"] is None
    r = await client.patch(task_url, json={"due_date": "2027-02-30"}, headers=user.headers)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "due_date"
    assert (await client.get(task_url, headers=user.headers)).json()["due_date"] is None
