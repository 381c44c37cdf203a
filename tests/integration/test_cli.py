"""The `agent-service` CLI: migrations, admin creation, and the first admin from settings."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from agent_service.app import create_app
from agent_service.cli import app as cli
from agent_service.settings import Settings

runner = CliRunner()


@pytest.fixture
def fresh_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty data directory the CLI reads through its environment, as a user would set it."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    for name, value in {"ARGON2_TIME_COST": "1", "ARGON2_MEMORY_KIB": "1024"}.items():
        monkeypatch.setenv(name, value)
    return tmp_path / "var"


async def login(settings: Settings, email: str, password: str) -> httpx.Response:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            token = (
                await client.post("/api/auth/login", json={"email": email, "password": password})
            ).json()["access_token"]
            return await client.get(
                "/api/admin/users", headers={"Authorization": f"Bearer {token}"}
            )


def test_db_upgrade_then_create_admin(fresh_env: Path) -> None:
    result = runner.invoke(cli, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert (fresh_env / "agent_service.db").exists()

    result = runner.invoke(
        cli, ["create-admin", "root@example.com"], input="admin-pass-1\nadmin-pass-1\n"
    )
    assert result.exit_code == 0, result.output
    assert "Created admin" in result.output

    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    r = asyncio.run(login(settings, "root@example.com", "admin-pass-1"))
    assert r.status_code == 200


def test_create_admin_refuses_short_password(fresh_env: Path) -> None:
    runner.invoke(cli, ["db", "upgrade"])
    result = runner.invoke(cli, ["create-admin", "a@example.com", "--password", "short"])
    assert result.exit_code == 2
    assert "8 characters" in result.output


def test_first_admin_from_settings(fresh_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runner.invoke(cli, ["db", "upgrade"])
    monkeypatch.setenv("FIRST_ADMIN_EMAIL", "first@example.com")
    monkeypatch.setenv("FIRST_ADMIN_PASSWORD", "first-pass-1")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    r = asyncio.run(login(settings, "first@example.com", "first-pass-1"))
    assert r.status_code == 200
    assert [u["email"] for u in r.json()] == ["first@example.com"]
    # a second start does not create it twice
    r = asyncio.run(login(settings, "first@example.com", "first-pass-1"))
    assert len(r.json()) == 1 and r.headers["x-total-count"] == "1"
