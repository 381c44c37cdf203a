"""/api/assistants: CRUD, immutable versions, built-in assistants, ownership and publishing."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import MakeUser
from tests.factories import UNKNOWN_ID, TestUser

MCP_TOOL = {
    "type": "mcp",
    "server_url": "https://mcp.example.com/mcp",
    "headers": {"Authorization": "Bearer secret-token"},
    "allowed_tools": ["get_time"],
    "require_approval": {"always": ["get_time"]},
}
FUNCTION_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}


async def create(client: httpx.AsyncClient, owner: TestUser, **fields: Any) -> dict[str, Any]:
    body = {"name": "Helper", "instructions": "Be brief.", **fields}
    r = await client.post("/api/assistants", json=body, headers=owner.headers)
    assert r.status_code == 201, r.text
    return dict(r.json())


async def test_create_read_change_and_versions(client: httpx.AsyncClient, user: TestUser) -> None:
    made = await create(
        client,
        user,
        tools=[{"type": "builtin", "name": "create_task"}, MCP_TOOL, FUNCTION_TOOL],
        settings={"temperature": 0.2},
        metadata={"team": "ops"},
    )
    assert made["version"] == 1 and made["builtin"] is False and made["owner_id"] == str(user.id)
    assert made["tools"][1]["headers"] == {"Authorization": "<redacted>"}
    r = await client.patch(
        f"/api/assistants/{made['id']}", json={"instructions": "Be kind."}, headers=user.headers
    )
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 2 and r.json()["instructions"] == "Be kind."
    assert r.json()["settings"]["temperature"] == 0.2  # fields not sent are kept
    r = await client.get(f"/api/assistants/{made['id']}/versions", headers=user.headers)
    assert [(v["version"], v["instructions"]) for v in r.json()] == [
        (2, "Be kind."),
        (1, "Be brief."),
    ]
    r = await client.get("/api/assistants", headers=user.headers)
    assert [a["id"] for a in r.json()] == ["assistant", "researcher", "coder", made["id"]]
    assert r.headers["X-Total-Count"] == "4"
    r = await client.delete(f"/api/assistants/{made['id']}", headers=user.headers)
    assert r.status_code == 204
    r = await client.get(f"/api/assistants/{made['id']}", headers=user.headers)
    assert r.status_code == 404 and r.json()["error"] == "assistant_not_found"


async def test_pages_run_across_built_in_and_stored(
    client: httpx.AsyncClient, user: TestUser
) -> None:
    made = [await create(client, user, name=f"A{i}") for i in range(3)]
    r = await client.get("/api/assistants?limit=2&offset=2", headers=user.headers)
    assert [a["id"] for a in r.json()] == ["coder", made[0]["id"]]
    r = await client.get("/api/assistants?limit=2&offset=4", headers=user.headers)
    assert [a["id"] for a in r.json()] == [made[1]["id"], made[2]["id"]]


async def test_built_in_assistants_are_read_only(client: httpx.AsyncClient, user: TestUser) -> None:
    r = await client.get("/api/assistants/coder", headers=user.headers)
    assert r.status_code == 200 and r.json()["builtin"] is True
    assert {t["name"] for t in r.json()["tools"]} == {"get_issue", "get_pull_request_diff"}
    r = await client.patch("/api/assistants/coder", json={"name": "x"}, headers=user.headers)
    assert r.status_code == 403 and r.json()["error"] == "assistant_read_only"
    r = await client.delete("/api/assistants/assistant", headers=user.headers)
    assert r.status_code == 403
    r = await client.get("/api/assistants/coder/versions", headers=user.headers)
    assert [v["version"] for v in r.json()] == [1]


async def test_another_users_assistant_is_not_found(
    client: httpx.AsyncClient, user: TestUser, other_user: TestUser
) -> None:
    made = await create(client, user)
    for method, path, body in [
        ("GET", f"/api/assistants/{made['id']}", None),
        ("GET", f"/api/assistants/{made['id']}/versions", None),
        ("PATCH", f"/api/assistants/{made['id']}", {"name": "mine now"}),
        ("DELETE", f"/api/assistants/{made['id']}", None),
    ]:
        r = await client.request(method, path, json=body, headers=other_user.headers)
        assert r.status_code == 404, (method, path, r.text)
    r = await client.get("/api/assistants", headers=other_user.headers)
    assert made["id"] not in [a["id"] for a in r.json()]
    r = await client.get(f"/api/assistants/{made['id']}/versions", headers=user.headers)
    assert len(r.json()) == 1  # nothing changed


async def test_unknown_and_malformed_ids_are_404(client: httpx.AsyncClient, user: TestUser) -> None:
    for assistant_id in (UNKNOWN_ID, "not-an-id"):
        r = await client.get(f"/api/assistants/{assistant_id}", headers=user.headers)
        assert r.status_code == 404


async def test_only_admins_publish_and_use_stdio_servers(
    client: httpx.AsyncClient, user: TestUser, make_user: MakeUser
) -> None:
    admin = await make_user(is_admin=True)
    r = await client.post(
        "/api/assistants", json={"name": "Shared", "public": True}, headers=user.headers
    )
    assert r.status_code == 403 and "admin" in r.json()["detail"]
    stdio = {"type": "mcp_stdio", "command": "python", "args": ["-m", "mcp_server_time"]}
    r = await client.post(
        "/api/assistants", json={"name": "Local", "tools": [stdio]}, headers=user.headers
    )
    assert r.status_code == 403 and "mcp_stdio" in r.json()["detail"]
    shared = await create(client, admin, name="Shared", public=True, tools=[stdio])
    r = await client.get(f"/api/assistants/{shared['id']}", headers=user.headers)
    assert r.status_code == 200 and r.json()["public"] is True
    r = await client.patch(
        f"/api/assistants/{shared['id']}", json={"name": "x"}, headers=user.headers
    )
    assert r.status_code == 403 and r.json()["error"] == "assistant_read_only"


async def test_invalid_tools_are_422(client: httpx.AsyncClient, user: TestUser) -> None:
    bad_tools: list[dict[str, Any]] = [
        {"type": "builtin", "name": "rm_rf"},
        {"type": "mcp", "server_url": "ftp://example.com/mcp"},
        {"type": "mcp", "server_url": "http:///no-host"},
        {"type": "http", "url": "https://example.com"},
    ]
    for tool in bad_tools:
        r = await client.post(
            "/api/assistants", json={"name": "Bad", "tools": [tool]}, headers=user.headers
        )
        assert r.status_code == 422, (tool, r.text)


async def test_schema_states_the_tool_rules(client: httpx.AsyncClient) -> None:
    """What the validators check is in the published schema, so schema-valid input is accepted."""
    schemas = (await client.get("/openapi.json")).json()["components"]["schemas"]
    assert "create_task" in schemas["BuiltinTool"]["properties"]["name"]["enum"]
    assert schemas["MCPTool"]["properties"]["server_url"]["pattern"].startswith("^https?://")


async def test_function_tool_parameters_not_an_object_schema_are_400(
    client: httpx.AsyncClient, user: TestUser
) -> None:
    for parameters in ({"type": "nonsense"}, {"type": "string"}):
        tool = {"type": "function", "name": "f", "parameters": parameters}
        r = await client.post(
            "/api/assistants", json={"name": "Bad", "tools": [tool]}, headers=user.headers
        )
        assert r.status_code == 400, (tool, r.text)
        assert r.json()["error"] == "invalid_tool_schema"


async def test_null_fields_are_refused_on_change(client: httpx.AsyncClient, user: TestUser) -> None:
    made = await create(client, user)
    r = await client.patch(
        f"/api/assistants/{made['id']}", json={"name": None}, headers=user.headers
    )
    assert r.status_code == 422
    r = await client.patch(
        f"/api/assistants/{made['id']}", json={"model": None}, headers=user.headers
    )
    assert r.status_code == 200 and r.json()["model"] is None and r.json()["version"] == 2
