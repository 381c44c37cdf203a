"""Fixtures of the service's suite: one migrated database per run, a fresh app and client per test."""

from __future__ import annotations

import email
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from email.message import Message
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from agent_service.app import create_app
from agent_service.settings import Settings
from tests import factories
from tests.database import delete_all_rows, migrated_database, postgres_database
from tests.factories import TestUser

TEST_JWT_SECRET = "test-secret-" + "0123456789abcdef" * 4


def pytest_report_header() -> str:
    backend = "PostgreSQL" if os.environ.get("TEST_DATABASE_URL") else "SQLite"
    return f"agent-service database: {backend}"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with migrated_database(tmp_path_factory.mktemp("db")) as url:
        yield url


@pytest.fixture
def isolated_database_url() -> Iterator[str]:
    """For a service process: its own empty PostgreSQL database, or "" (embedded SQLite)."""
    server_url = os.environ.get("TEST_DATABASE_URL")
    if not server_url:
        yield ""
        return
    with postgres_database(server_url.replace("postgresql://", "postgresql+psycopg://", 1)) as url:
        yield url


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """Settings of a test app: its own data and mail folders, cheap argon2, no .env file."""
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        environment="test",
        database_url=database_url,
        data_dir=tmp_path / "data",
        mail_dir=tmp_path / "mail",
        jwt_secret=TEST_JWT_SECRET,
        argon2_time_cost=1,
        argon2_memory_kib=1024,
        argon2_parallelism=1,
        llm_api_key=None,
    )


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        try:
            yield application
        finally:
            await delete_all_rows(application.state.engine)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


MakeUser = Callable[..., Awaitable[TestUser]]


@pytest.fixture
def make_user(app: FastAPI, settings: Settings) -> MakeUser:
    """Creates a verified user (or admin) through the service and logs it in."""

    async def make(**kwargs: Any) -> TestUser:
        return await factories.make_user(app.state.sessionmaker, settings, **kwargs)

    return make


@pytest.fixture
async def user(make_user: MakeUser) -> TestUser:
    return await make_user()


@pytest.fixture
async def other_user(make_user: MakeUser) -> TestUser:
    return await make_user()


@pytest.fixture
async def admin(make_user: MakeUser) -> TestUser:
    return await make_user(is_admin=True)


class Outbox:
    """The file mail backend's folder, read as a list of messages."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def messages(self) -> list[Message]:
        if not self.directory.exists():
            return []
        files = sorted(self.directory.glob("*.eml"), key=lambda p: p.stat().st_mtime_ns)
        return [email.message_from_bytes(p.read_bytes()) for p in files]

    def to(self, address: str) -> list[Message]:
        return [m for m in self.messages() if m["To"] == address]

    def token_sent_to(self, address: str) -> str:
        """The `?token=` of the newest mail to `address`."""
        sent = self.to(address)
        assert sent, f"no mail was sent to {address!r}"
        body = sent[-1].get_payload(decode=True)
        assert isinstance(body, bytes)
        text = body.decode()
        return text.split("?token=", 1)[1].split()[0]


@pytest.fixture
def outbox(settings: Settings) -> Outbox:
    assert settings.mail_dir is not None
    return Outbox(settings.mail_dir)
