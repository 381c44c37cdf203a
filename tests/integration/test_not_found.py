"""A 404 says what was not found, naming the id as sent, on every domain."""

from __future__ import annotations

import httpx
import pytest

from tests.factories import TestUser

MISSING = "00000000-0000-4000-8000-000000000000"


@pytest.mark.parametrize(
    ("path", "code", "detail"),
    [
        ("/api/tasks/{id}", "task_not_found", "Task {id!r} not found."),
        ("/api/projects/{id}", "project_not_found", "Project {id!r} not found."),
        ("/api/conversations/{id}", "conversation_not_found", "Conversation {id!r} not found."),
        (
            "/api/conversations/{id}/history",
            "conversation_not_found",
            "Conversation {id!r} not found.",
        ),
        ("/api/documents/{id}", "document_not_found", "Document {id!r} not found."),
        ("/api/users/{id}", "user_not_found", "User {id!r} not found."),
    ],
)
@pytest.mark.parametrize("resource_id", [MISSING, "not-an-id"])
async def test_a_404_names_what_was_not_found(
    client: httpx.AsyncClient,
    admin: TestUser,
    path: str,
    code: str,
    detail: str,
    resource_id: str,
) -> None:
    r = await client.get(path.format(id=resource_id), headers=admin.headers)
    assert r.status_code == 404, r.text
    assert r.json() == {"error": code, "detail": detail.format(id=resource_id)}
    assert "not found" in r.json()["detail"]


async def test_another_users_task_is_not_found_the_same_way(
    client: httpx.AsyncClient, user: TestUser, other_user: TestUser
) -> None:
    task = (await client.post("/api/tasks", json={"title": "mine"}, headers=user.headers)).json()
    r = await client.delete(f"/api/tasks/{task['id']}", headers=other_user.headers)
    assert r.status_code == 404
    assert r.json()["detail"] == f"Task {task['id']!r} not found."


async def test_a_task_in_an_unknown_project_names_the_project(
    client: httpx.AsyncClient, user: TestUser
) -> None:
    r = await client.post(
        "/api/tasks", json={"title": "t", "project_id": MISSING}, headers=user.headers
    )
    assert r.status_code == 404
    assert r.json() == {"error": "project_not_found", "detail": f"Project {MISSING!r} not found."}


async def test_an_unknown_agent_type_is_not_found_with_the_known_ones(
    client: httpx.AsyncClient, user: TestUser
) -> None:
    r = await client.post("/api/conversations", json={"agent_type": "wizard"}, headers=user.headers)
    assert r.status_code == 404
    assert r.json()["error"] == "agent_type_not_found"
    assert r.json()["detail"].startswith("Agent type 'wizard' not found; the agent types are ")
    assert "assistant" in r.json()["detail"]
