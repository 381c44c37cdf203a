"""The `agent-service` CLI: migrations, admin creation, and the first admin from settings."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner, Result

from agent_service.app import create_app
from agent_service.cli import app as cli
from agent_service.db import create_engine, create_sessionmaker
from agent_service.settings import Settings
from agent_service.users import service as users

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


async def call_service(settings: Settings, path: str, body: dict[str, str]) -> int:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return (await client.post(path, json=body)).status_code


async def login_status(settings: Settings, email: str, password: str) -> int:
    return await call_service(settings, "/api/auth/login", {"email": email, "password": password})


async def user_exists(settings: Settings, email: str) -> bool:
    engine = create_engine(settings.resolved_database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            return await users.get_user_by_email(session, email) is not None
    finally:
        await engine.dispose()


async def register(settings: Settings, email: str, password: str) -> int:
    return await call_service(
        settings, "/api/auth/register", {"email": email, "password": password}
    )


def create_admin(*args: str, stdin: str | None = None) -> Result:
    return runner.invoke(cli, ["create-admin", *args], input=stdin)


def test_create_admin_refuses_an_invalid_email(fresh_env: Path) -> None:
    runner.invoke(cli, ["db", "upgrade"])
    result = create_admin("not-an-email", "--password", "long-enough-1")
    assert result.exit_code == 2
    assert "not a valid email address" in result.output
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert not asyncio.run(user_exists(settings, "not-an-email"))


def test_create_admin_on_an_existing_user_keeps_its_password(fresh_env: Path) -> None:
    runner.invoke(cli, ["db", "upgrade"])
    assert create_admin("Root@Example.com", "--password", "first-pass-1").exit_code == 0

    result = create_admin("root@example.com", "--password", "other-pass-1")
    assert result.exit_code == 0, result.output
    assert "password is unchanged" in result.output
    assert "--set-password" in result.output  # says the given one was not used
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert asyncio.run(login_status(settings, "root@example.com", "first-pass-1")) == 200
    assert asyncio.run(login_status(settings, "root@example.com", "other-pass-1")) == 401


def test_create_admin_promotes_without_asking_for_a_password(fresh_env: Path) -> None:
    runner.invoke(cli, ["db", "upgrade"])
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert asyncio.run(register(settings, "member@example.com", "member-pass-1")) == 201

    result = create_admin("member@example.com")  # no input: a prompt would abort
    assert result.exit_code == 0, result.output
    assert "Promoted 'member@example.com' to admin; its password is unchanged." in result.output
    assert asyncio.run(login_status(settings, "member@example.com", "member-pass-1")) == 200


def test_create_admin_set_password_replaces_it(fresh_env: Path) -> None:
    runner.invoke(cli, ["db", "upgrade"])
    assert create_admin("root@example.com", "--password", "first-pass-1").exit_code == 0

    result = create_admin("root@example.com", "--set-password", stdin="new-pass-12\nnew-pass-12\n")
    assert result.exit_code == 0, result.output
    assert "set the new password" in result.output
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert asyncio.run(login_status(settings, "root@example.com", "new-pass-12")) == 200
    assert asyncio.run(login_status(settings, "root@example.com", "first-pass-1")) == 401


async def disable_and_lock_out(settings: Settings, email: str) -> None:
    """The account disabled in the database and its logins backed off by wrong passwords."""
    engine = create_engine(settings.resolved_database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            account = await users.get_user_by_email(session, email)
            assert account is not None
            account.is_active = False
            await session.commit()
    finally:
        await engine.dispose()
    for _ in range(settings.login_max_failures):
        assert await login_status(settings, email, "wrong-password-1") == 401
    assert await login_status(settings, email, "wrong-password-1") == 429


def test_create_admin_brings_back_a_disabled_locked_out_admin(fresh_env: Path) -> None:
    """Whatever state the accounts are in, the CLI makes a working administrator."""
    runner.invoke(cli, ["db", "upgrade"])
    assert create_admin("root@example.com", "--password", "first-pass-1").exit_code == 0
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    asyncio.run(disable_and_lock_out(settings, "root@example.com"))

    result = create_admin("root@example.com", "--set-password", stdin="new-pass-12\nnew-pass-12\n")
    assert result.exit_code == 0, result.output
    assert asyncio.run(login(settings, "root@example.com", "new-pass-12")).status_code == 200
