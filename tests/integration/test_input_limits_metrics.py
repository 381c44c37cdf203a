"""/metrics: open in dev and test, behind METRICS_TOKEN, or only on METRICS_BIND's own listener."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from agent_service.settings import Settings

TOKEN = "metrics-token-for-tests-0123456789"


async def test_metrics_are_open_without_a_token_outside_production(
    client: httpx.AsyncClient,
) -> None:
    r = await client.get("/metrics")
    assert r.status_code == 200
    assert "agent_service_http_requests_total" in r.text


@pytest.mark.parametrize(
    "authorization", [None, "Bearer wrong", f"Basic {TOKEN}", f"Bearer {TOKEN}x"]
)
async def test_metrics_token_is_required_when_set(
    client: httpx.AsyncClient, settings: Settings, authorization: str | None
) -> None:
    settings.metrics_token = SecretStr(TOKEN)
    headers = {"Authorization": authorization} if authorization else {}
    r = await client.get("/metrics", headers=headers)
    assert r.status_code == 401
    assert r.json()["error"] == "unauthenticated"
    assert "agent_service_http" not in r.text


async def test_metrics_with_the_token(client: httpx.AsyncClient, settings: Settings) -> None:
    settings.metrics_token = SecretStr(TOKEN)
    r = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 200
    assert "agent_service_http_requests_total" in r.text


async def test_metrics_are_off_the_public_port_in_production(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    settings.environment = "production"
    r = await client.get("/metrics")
    assert r.status_code == 404
    assert r.json()["error"] == "not_found"


@pytest.fixture
def metrics_bind() -> str | None:
    return None


@pytest.fixture
def settings(settings: Settings, metrics_bind: str | None) -> Settings:
    settings.metrics_bind = metrics_bind  # before the app starts: its lifespan opens the listener
    return settings


@pytest.mark.parametrize("metrics_bind", ["127.0.0.1:0"])
async def test_metrics_bind_serves_them_on_their_own_listener_only(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await client.get("/healthz")
    assert (await client.get("/metrics")).status_code == 404  # not on the public port
    port = app.state.metrics_listener.port
    async with httpx.AsyncClient() as scraper:
        r = await scraper.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
    assert r.status_code == 200
    assert 'route="/healthz"' in r.text
