"""/api/projects: create (with first tasks), list, read with tasks, delete; ownership rules."""

from __future__ import annotations

import httpx
import pytest

from tests.factories import UNKNOWN_ID, TestUser


async def test_create_with_tasks_and_read_back(client: httpx.AsyncClient, user: TestUser) -> None:
    r = await client.post(
        "/api/projects",
        json={
            "name": "Launch",
            "description": "Ship v1",
            "tasks": [{"title": "Write docs"}, {"title": "Cut release", "priority": "high"}],
        },
        headers=user.headers,
    )
    assert r.status_code == 201, r.text
    project = r.json()
    assert (project["name"], project["description"]) == ("Launch", "Ship v1")
    assert [t["title"] for t in project["tasks"]] == ["Write docs", "Cut release"]
    assert {t["project_id"] for t in project["tasks"]} == {project["id"]}

    r = await client.get(f"/api/projects/{project['id']}", headers=user.headers)
    assert r.status_code == 200 and r.json() == project

    r = await client.get("/api/tasks", params={"project_id": project["id"]}, headers=user.headers)
    assert len(r.json()) == 2 and r.headers["x-total-count"] == "2"


async def test_list_is_paginated(client: httpx.AsyncClient, user: TestUser) -> None:
    for name in ("a", "b", "c"):
        await client.post("/api/projects", json={"name": name}, headers=user.headers)
    r = await client.get("/api/projects", params={"limit": 2}, headers=user.headers)
    body = r.json()
    assert [p["name"] for p in body] == ["a", "b"]
    assert r.headers["x-total-count"] == "3"
    assert "tasks" not in body[0]


async def test_delete_keeps_its_tasks_unfiled(client: httpx.AsyncClient, user: TestUser) -> None:
    r = await client.post(
        "/api/projects", json={"name": "Old", "tasks": [{"title": "keep me"}]}, headers=user.headers
    )
    project = r.json()
    task_id = project["tasks"][0]["id"]
    assert (
        await client.delete(f"/api/projects/{project['id']}", headers=user.headers)
    ).status_code == 204
    assert (
        await client.get(f"/api/projects/{project['id']}", headers=user.headers)
    ).status_code == 404
    r = await client.get(f"/api/tasks/{task_id}", headers=user.headers)
    assert r.status_code == 200 and r.json()["project_id"] is None


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": ""}, "name"),
        ({}, "name"),
        ({"name": "p", "tasks": [{"title": ""}]}, "tasks.0.title"),
        ({"name": "p", "tasks": [{"title": "t"}] * 51}, "tasks"),
    ],
)
async def test_validation_is_422(
    client: httpx.AsyncClient, user: TestUser, payload: dict, field: str
) -> None:
    r = await client.post("/api/projects", json=payload, headers=user.headers)
    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == [field]


@pytest.mark.parametrize("project_id", [UNKNOWN_ID, "nope"])
async def test_unknown_or_malformed_id_is_404(
    client: httpx.AsyncClient, user: TestUser, project_id: str
) -> None:
    for method in ("GET", "DELETE"):
        r = await client.request(method, f"/api/projects/{project_id}", headers=user.headers)
        assert r.status_code == 404 and r.json()["error"] == "project_not_found"


async def test_another_users_project_is_404_and_invisible(
    client: httpx.AsyncClient, user: TestUser, other_user: TestUser
) -> None:
    r = await client.post("/api/projects", json={"name": "mine"}, headers=user.headers)
    project_id = r.json()["id"]
    for method in ("GET", "DELETE"):
        r = await client.request(method, f"/api/projects/{project_id}", headers=other_user.headers)
        assert r.status_code == 404
    assert (await client.get("/api/projects", headers=other_user.headers)).json() == []
    assert (
        await client.get(f"/api/projects/{project_id}", headers=user.headers)
    ).status_code == 200


async def test_requires_a_token(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/projects")).status_code == 401
    assert (await client.post("/api/projects", json={"name": "x"})).status_code == 401


async def test_admin_overview_counts_tasks_projects_and_conversations(
    client: httpx.AsyncClient, user: TestUser, admin: TestUser
) -> None:
    await client.post(
        "/api/projects", json={"name": "p", "tasks": [{"title": "a"}]}, headers=user.headers
    )
    await client.post("/api/tasks", json={"title": "b"}, headers=user.headers)
    await client.post("/api/conversations", json={"agent_type": "coder"}, headers=user.headers)
    r = await client.get("/api/admin/users", headers=admin.headers)
    counts = {u["email"]: u["counts"] for u in r.json()}
    assert {k: counts[user.email][k] for k in ("tasks", "projects", "conversations")} == {
        "tasks": 2,
        "projects": 1,
        "conversations": 1,
    }
