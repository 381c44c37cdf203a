"""Health, readiness (database and migrations) and metrics."""

from __future__ import annotations

from pathlib import Path

import httpx

from agent_service import migrations
from agent_service.app import create_app
from agent_service.settings import Settings


async def test_healthz(client: httpx.AsyncClient) -> None:
    r = await client.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}


async def test_readyz_on_migrated_database(client: httpx.AsyncClient) -> None:
    r = await client.get("/readyz")
    assert r.status_code == 200
    assert r.json()["migration"] == migrations.head_revision()


async def _readyz(settings: Settings) -> httpx.Response:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.get("/readyz")


async def test_readyz_fails_on_unmigrated_database(settings: Settings, tmp_path: Path) -> None:
    empty = settings.model_copy(
        update={"database_url": f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"}
    )
    r = await _readyz(empty)
    assert r.status_code == 503
    assert r.json()["error"] == "not_ready"
    assert "db upgrade" in r.json()["detail"]


async def test_readyz_fails_when_database_unreachable(settings: Settings) -> None:
    # A server that refuses connections (port 1 on loopback). An unopenable SQLite file would
    # do too, but aiosqlite's worker thread then outlives the test's event loop.
    unreachable = settings.model_copy(
        update={"database_url": "postgresql+psycopg://agent@127.0.0.1:1/unreachable"}
    )
    r = await _readyz(unreachable)
    assert r.status_code == 503
    assert r.json() == {"error": "not_ready", "detail": "The database is not reachable."}


async def test_metrics_count_requests_by_route(client: httpx.AsyncClient) -> None:
    await client.get("/healthz")
    r = await client.get("/metrics")
    assert r.status_code == 200
    assert 'agent_service_http_requests_total{method="GET",route="/healthz",status="200"}' in r.text
