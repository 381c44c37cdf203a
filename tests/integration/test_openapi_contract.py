"""The published OpenAPI tells the truth about errors: statuses, the envelope, nullability."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

METHODS = ("get", "put", "post", "delete", "patch")


@pytest.fixture
async def spec(client: httpx.AsyncClient) -> dict[str, Any]:
    r = await client.get("/openapi.json")
    assert r.status_code == 200
    return dict(r.json())


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, op)
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if method in METHODS
    ]


def schema_ref(response: dict[str, Any]) -> str:
    return str(response["content"]["application/json"]["schema"]["$ref"]).rsplit("/", 1)[-1]


async def test_422_is_the_envelope_with_errors(spec: dict[str, Any]) -> None:
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    body = spec["components"]["schemas"]["ValidationErrorBody"]
    assert set(body["required"]) == {"error", "detail", "errors"}
    for method, path, op in operations(spec):
        if "422" in op["responses"]:
            assert schema_ref(op["responses"]["422"]) == "ValidationErrorBody", (method, path)


async def test_every_error_status_has_the_envelope(spec: dict[str, Any]) -> None:
    for method, path, op in operations(spec):
        for status, response in op["responses"].items():
            if int(status) >= 400 and status != "422":
                assert schema_ref(response) == "ErrorBody", (method, path, status)


async def test_statuses_follow_what_an_operation_takes(spec: dict[str, Any]) -> None:
    for method, path, op in operations(spec):
        statuses = set(op["responses"])
        if op.get("security"):
            assert {"401", "403"} <= statuses, (method, path)
        if "requestBody" in op:
            assert {"400", "413", "422"} <= statuses, (method, path)
        if "{" in path:
            assert "404" in statuses, (method, path)
    chat = spec["paths"]["/api/agent/chat"]["post"]["responses"]
    assert {"429", "502", "503"} <= set(chat)
    assert {"401", "403"} <= set(spec["paths"]["/api/auth/login"]["post"]["responses"])
    assert "415" in spec["paths"]["/api/documents"]["post"]["responses"]


async def test_fields_refused_as_null_are_not_nullable(spec: dict[str, Any]) -> None:
    properties = spec["components"]["schemas"]["TaskUpdate"]["properties"]
    for name in ("title", "description", "priority", "status"):
        assert "anyOf" not in properties[name], name
    assert "anyOf" in properties["project_id"]  # null unfiles the task


async def test_a_null_title_is_still_refused(client: httpx.AsyncClient, user: Any) -> None:
    task = (await client.post("/api/tasks", json={"title": "t"}, headers=user.headers)).json()
    r = await client.patch(f"/api/tasks/{task['id']}", json={"title": None}, headers=user.headers)
    assert r.status_code == 422
