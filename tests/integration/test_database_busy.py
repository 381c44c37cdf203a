"""A database that is locked, unreachable or silent: every route answers 503 `database_busy` with
Retry-After, never a 500, and works again once the database is back.

SQLite: another writer holds the write lock past busy_timeout (reads go on under WAL, so a route
fails at its first write or its commit). PostgreSQL: the app reaches the database through the
fault-injecting proxy (tests/faults.py), which the test cuts (a restart) or blackholes (a
partition, a hung server), or a table lock held elsewhere stalls a write past the answer timeout.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import psycopg
import pytest
from fastapi import FastAPI

from agent_service.settings import Settings
from agent_testkit import FakeLLM, parse_sse
from tests.conftest import use_fake_llm
from tests.factories import TestUser
from tests.faults import DatabaseProxy, sqlite_path, sqlite_write_lock


@pytest.fixture
def settings(settings: Settings, request: pytest.FixtureRequest, fake_llm: FakeLLM) -> Settings:
    settings.sqlite_busy_timeout_ms = 100
    settings.db_pool_timeout_s = 0.5
    settings.db_answer_timeout_s = 1.0
    if settings.resolved_database_url.startswith("postgresql"):
        proxy: DatabaseProxy = request.getfixturevalue("db_proxy")
        settings.database_url = proxy.url(settings.resolved_database_url)
    return use_fake_llm(settings, fake_llm.base_url)


def sqlite_only(settings: Settings) -> str:
    if not settings.resolved_database_url.startswith("sqlite"):
        pytest.skip("SQLite's write lock only")
    return sqlite_path(settings.resolved_database_url)


def assert_busy(r: httpx.Response) -> None:
    assert r.status_code == 503, r.text
    assert r.json()["error"] == "database_busy"
    assert int(r.headers["retry-after"]) >= 1


# What a user does most, with bodies that pass validation: each must be a 503 while the database
# is away, and work once it is back.
ROUTES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/api/tasks", None),
    ("POST", "/api/tasks", {"title": "Write the report"}),
    ("GET", "/api/projects", None),
    ("GET", "/api/profile", None),
    ("GET", "/api/profile/usage", None),
    ("GET", "/api/conversations", None),
    ("POST", "/api/conversations", {"agent_type": "assistant"}),
    ("GET", "/api/documents", None),
    ("POST", "/api/agent/chat", {"message": "Hi"}),
    ("POST", "/api/agent/chat/stream", {"message": "Hi"}),
    ("POST", "/api/auth/login", {"email": "nobody@example.com", "password": "long-enough-1"}),
    ("POST", "/api/auth/register", {"email": "new@example.com", "password": "long-enough-1"}),
]


async def call(client: httpx.AsyncClient, user: TestUser, route: tuple[str, str, Any]) -> Any:
    method, path, body = route
    async with asyncio.timeout(15):
        return await client.request(method, path, json=body, headers=user.headers)


@pytest.mark.parametrize("fault", ["cut", "blackhole"])
async def test_every_route_is_503_while_postgres_is_away_then_works(
    client: httpx.AsyncClient, user: TestUser, db_faults: DatabaseProxy, fault: str
) -> None:
    getattr(db_faults, fault)()
    for route in ROUTES:
        assert_busy(await call(client, user, route))

    db_faults.restore()

    for route in ROUTES:
        if "/chat" not in route[1]:  # the model is not scripted here
            r = await call(client, user, route)
            assert r.status_code < 500, (route, r.text)


def operations(app: FastAPI) -> list[tuple[str, str]]:
    """Every operation the API documents, with its path parameters given random ids."""
    found = []
    for path, item in app.openapi()["paths"].items():
        for method in item:
            concrete = path
            for parameter in item[method].get("parameters", []):
                if parameter["in"] == "path":
                    concrete = concrete.replace(f"{{{parameter['name']}}}", str(uuid.uuid4()))
            found.append((method.upper(), concrete))
    return found


async def test_no_documented_route_is_a_500_while_postgres_is_cut(
    app: FastAPI, client: httpx.AsyncClient, user: TestUser, db_faults: DatabaseProxy
) -> None:
    db_faults.cut()
    answers = {}
    for method, path in operations(app):
        r = await call(client, user, (method, path, {}))
        answers[f"{method} {path}"] = r.status_code, r.json().get("error") if r.content else None
        assert r.status_code != 500, (method, path, r.text)
        if r.status_code == 503 and r.json()["error"] == "database_busy":
            assert_busy(r)
    busy = [a for a, (_, code) in answers.items() if code == "database_busy"]
    assert len(busy) >= len(answers) // 2, answers


async def test_a_write_stalled_by_a_postgres_lock_is_503(
    client: httpx.AsyncClient, user: TestUser, settings: Settings, database_url: str
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("a PostgreSQL table lock")
    dsn = database_url.replace("postgresql+psycopg://", "postgresql://", 1)
    async with await psycopg.AsyncConnection.connect(dsn) as holder:
        await holder.execute("LOCK TABLE task IN EXCLUSIVE MODE")  # reads go on, writes wait
        assert (await client.get("/api/tasks", headers=user.headers)).status_code == 200
        assert_busy(await client.post("/api/tasks", json={"title": "x"}, headers=user.headers))
        await holder.rollback()
    r = await client.post("/api/tasks", json={"title": "x"}, headers=user.headers)
    assert r.status_code == 201, r.text


async def test_write_while_locked_is_503_then_works(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    payload = {"email": "busy@example.com", "password": "long-enough-1"}
    with sqlite_write_lock(sqlite_only(settings)):
        assert (await client.get("/healthz")).status_code == 200
        r = await client.post("/api/auth/register", json=payload)
    assert_busy(r)
    r = await client.post("/api/auth/register", json=payload)
    assert r.status_code == 201


async def test_sqlite_lock_at_the_commit_is_503(
    client: httpx.AsyncClient, user: TestUser, settings: Settings
) -> None:
    """The route reads (its user, under WAL) and fails only when it writes."""
    with sqlite_write_lock(sqlite_only(settings)):
        assert (await client.get("/api/tasks", headers=user.headers)).status_code == 200
        for route in ROUTES:
            if route[0] == "POST" and route[1] != "/api/auth/login":  # an unknown email: no write
                assert_busy(await call(client, user, route))
    r = await client.post("/api/tasks", json={"title": "x"}, headers=user.headers)
    assert r.status_code == 201, r.text


async def test_a_stream_refused_at_its_start_is_a_503_not_an_event(
    client: httpx.AsyncClient, user: TestUser, settings: Settings, fake_llm: FakeLLM
) -> None:
    with sqlite_write_lock(sqlite_only(settings)):
        r = await client.post(
            "/api/agent/chat/stream", json={"message": "Hi"}, headers=user.headers
        )
    assert_busy(r)
    fake_llm.script(fake_llm.reply("Back."))
    r = await client.post("/api/agent/chat/stream", json={"message": "Hi"}, headers=user.headers)
    assert r.status_code == 200
    assert parse_sse(r.text)[-1].event == "message.completed"


async def test_the_openapi_documents_503_with_retry_after(app: FastAPI) -> None:
    spec = app.openapi()
    response = spec["paths"]["/api/tasks"]["get"]["responses"]["503"]
    assert response["content"]["application/json"]["schema"]["$ref"].endswith("ErrorBody")
    assert "Retry-After" in response["headers"]
