"""Every error, framework-made or ours, leaves in one shape, without internals."""

from __future__ import annotations

import logging

import httpx
import pytest
from fastapi import FastAPI, Request

from tests.factories import TestUser
from tests.live_server import serving


async def test_unknown_route_is_404_envelope(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/nope")
    assert r.status_code == 404
    assert r.json() == {"error": "not_found", "detail": "No such route or resource."}


async def test_wrong_method_is_405_envelope(client: httpx.AsyncClient) -> None:
    r = await client.delete("/api/auth/login")
    assert r.status_code == 405
    assert r.json()["error"] == "method_not_allowed"


async def test_malformed_json_is_422_with_errors(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/api/auth/login", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 422
    body = r.json()
    assert body["error"] == "validation_error"
    assert isinstance(body["errors"], list)
    assert body["errors"]
    assert {"field", "message"} <= set(body["errors"][0])


async def test_query_validation_is_422(client: httpx.AsyncClient, admin: TestUser) -> None:
    r = await client.get("/api/users", headers=admin.headers, params={"limit": 0})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "limit"


@pytest.mark.own_app  # it adds a route
async def test_unhandled_error_is_500_without_internals(
    app: FastAPI, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    secret_sql = "SELECT hashed_password FROM user WHERE 1=1"

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError(secret_sql)

    with caplog.at_level(logging.ERROR, logger="agent_service.errors"):
        r = await client.get("/boom", headers={"X-Request-ID": "req-123"})
    assert r.status_code == 500
    assert r.json()["error"] == "internal_error"
    assert "req-123" in r.json()["detail"]
    assert secret_sql not in r.text
    assert "Traceback" not in r.text
    assert r.headers["x-request-id"] == "req-123"
    logged = [rec for rec in caplog.records if rec.name == "agent_service.errors"]
    assert logged
    assert logged[0].request_id == "req-123"
    assert logged[0].exc_info and logged[0].exc_info[1] is not None  # not False


async def test_request_id_is_echoed_or_made(client: httpx.AsyncClient) -> None:
    r = await client.get("/healthz", headers={"X-Request-ID": "abc-1"})
    assert r.headers["x-request-id"] == "abc-1"
    r = await client.get("/healthz", headers={"X-Request-ID": "bad id; with spaces"})
    assert r.headers["x-request-id"] != "bad id; with spaces"
    assert len(r.headers["x-request-id"]) == 32


async def test_openapi_declares_bearer_auth(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    schemes = spec["components"]["securitySchemes"]
    assert any(s.get("type") == "oauth2" for s in schemes.values())
    assert (await client.get("/docs")).status_code == 200


@pytest.mark.own_app  # it adds routes
async def test_a_500_leaves_the_keep_alive_connection_usable(app: FastAPI) -> None:
    """Against a real uvicorn: one client, one connection, a 500 then a 200 on it."""

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("a bug")

    @app.get("/peer")
    async def peer(request: Request) -> dict[str, int]:
        assert request.client is not None
        return {"port": request.client.port}

    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    async with (
        serving(app) as base_url,
        httpx.AsyncClient(base_url=base_url, limits=limits, timeout=10) as client,
    ):
        before = (await client.get("/peer")).json()["port"]
        r = await client.get("/boom")
        assert r.status_code == 500
        assert r.json()["error"] == "internal_error"
        assert r.headers.get("connection") != "close"
        after = await client.get("/peer")
    assert after.status_code == 200
    assert after.json()["port"] == before  # the same TCP connection


async def test_405_allow_lists_every_method_of_the_path(client: httpx.AsyncClient) -> None:
    r = await client.request("OPTIONS", "/api/conversations")
    assert r.status_code == 405
    assert r.json()["error"] == "method_not_allowed"
    allowed = set(r.headers["allow"].split(", "))
    assert {"GET", "POST"} <= allowed
    r = await client.request("PATCH", "/api/users/x")
    assert {"GET", "PUT", "DELETE"} <= set(r.headers["allow"].split(", "))
