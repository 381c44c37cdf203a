"""A NUL character (\\u0000) in any text field is 422 at the schema, on SQLite and PostgreSQL alike.

PostgreSQL cannot store it (it was a 500) and SQLite stored it silently; one field per route
group is sent with a NUL, and nothing is stored.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.factories import TestUser

NUL = "bad\x00text"


def assert_nul_refused(r: httpx.Response, field: str) -> None:
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["error"] == "validation_error"
    assert any(e["field"].endswith(field) and "NUL" in e["message"] for e in body["errors"]), body


AUTHENTICATED = [
    ("POST", "/api/tasks", {"title": NUL}, "title"),
    ("POST", "/api/tasks", {"title": "ok", "description": NUL}, "description"),
    ("POST", "/api/projects", {"name": NUL}, "name"),
    ("POST", "/api/projects", {"name": "ok", "tasks": [{"title": NUL}]}, "title"),
    ("POST", "/api/conversations", {"agent_type": "assistant", "title": NUL}, "title"),
    ("PATCH", "/api/profile", {"name": NUL}, "name"),
    ("POST", "/api/agent/chat", {"message": NUL}, "message"),
    (
        "POST",
        "/api/agents/assistant/chat",
        {"messages": [{"role": "user", "content": NUL}]},
        "content",
    ),
]


@pytest.mark.parametrize(("method", "path", "body", "field"), AUTHENTICATED)
async def test_nul_in_a_text_field_is_422(
    client: httpx.AsyncClient,
    user: TestUser,
    method: str,
    path: str,
    body: dict[str, Any],
    field: str,
) -> None:
    r = await client.request(method, path, json=body, headers=user.headers)
    assert_nul_refused(r, field)


async def test_nothing_with_a_nul_was_stored(client: httpx.AsyncClient, user: TestUser) -> None:
    for method, path, body, _ in AUTHENTICATED:
        await client.request(method, path, json=body, headers=user.headers)
    for listing in ("/api/tasks", "/api/projects", "/api/conversations"):
        r = await client.get(listing, headers=user.headers)
        assert r.status_code == 200
        assert "\\u0000" not in r.text
    assert "\\u0000" not in (await client.get("/api/profile", headers=user.headers)).text


async def test_nul_in_a_task_update_is_422(client: httpx.AsyncClient, user: TestUser) -> None:
    task = (await client.post("/api/tasks", json={"title": "t"}, headers=user.headers)).json()
    r = await client.patch(f"/api/tasks/{task['id']}", json={"title": NUL}, headers=user.headers)
    assert_nul_refused(r, "title")


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        (
            "/api/auth/register",
            {"email": "n@example.com", "password": "long-enough\x00"},
            "password",
        ),
        (
            "/api/auth/register",
            {"email": "n@example.com", "password": "long-enough", "name": NUL},
            "name",
        ),
        ("/api/auth/login", {"email": "n@example.com", "password": NUL}, "password"),
        ("/api/auth/verify-email", {"token": NUL}, "token"),
        (
            "/api/auth/reset-password",
            {"token": "t", "new_password": "long-enough\x00"},
            "new_password",
        ),
    ],
)
async def test_nul_in_auth_bodies_is_422(
    client: httpx.AsyncClient, path: str, body: dict[str, Any], field: str
) -> None:
    assert_nul_refused(await client.post(path, json=body), field)


async def test_nul_in_an_email_is_422(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/api/auth/register", json={"email": "a\x00b@example.com", "password": "long-enough"}
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "email"


async def test_nul_in_a_password_change_is_422(client: httpx.AsyncClient, user: TestUser) -> None:
    r = await client.put(
        f"/api/users/{user.id}",
        json={"password": "long-enough\x00", "current_password": user.password},
        headers=user.headers,
    )
    assert_nul_refused(r, "password")


async def test_the_schema_publishes_the_rule(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    schemas = spec["components"]["schemas"]
    assert schemas["ConversationCreate"]["properties"]["title"]["pattern"] == "^[^\\x00]*$"
    # a title must also have a character that is not whitespace
    assert (
        schemas["TaskCreate"]["properties"]["title"]["pattern"] == "^[^\\x00]*[^\\s\\x00][^\\x00]*$"
    )
