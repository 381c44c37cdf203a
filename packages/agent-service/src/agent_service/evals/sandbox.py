"""Where the cases run: one temporary folder per run with a SQLite database migrated once, and per
app a copy of it, the app built on it by `create_app`, and HTTP clients over ASGI.

An app serves the cases of one concurrency slot, one after another, each case with fresh users.
Slots get their own apps because the app's LLM base URL is a setting and cases running at once each
talk to their own fake model (the fake routes by base URL); and their own database copies, so they
never contend for SQLite's one writer.
"""

from __future__ import annotations

import contextlib
import secrets
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from agent_service import migrations
from agent_service.app import create_app
from agent_service.settings import Settings

APP_URL = "http://eval.test"
HERMETIC_DEFAULTS: dict[str, Any] = {
    name: field.get_default(call_default_factory=True)
    for name, field in Settings.model_fields.items()
}


@dataclass(frozen=True)
class LLMEndpoint:
    """Which model a case's app talks to."""

    base_url: str
    api_key: str
    model: str
    timeout_s: float = 60.0


def live_endpoint(settings: Settings) -> LLMEndpoint | None:
    """The configured provider (`LLM_BASE_URL`, `LLM_API_KEY`, `LLM_MODEL`), or None without a key."""
    if settings.llm_api_key is None:
        return None
    return LLMEndpoint(
        settings.llm_base_url,
        settings.llm_api_key.get_secret_value(),
        settings.llm_model,
        settings.llm_timeout_s,
    )


@dataclass
class CaseApp:
    app: FastAPI
    settings: Settings
    transport: httpx.ASGITransport

    def client(self, headers: dict[str, str] | None = None) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=self.transport, base_url=APP_URL, headers=headers)


class Sandbox:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.template = directory / "template.db"

    def migrate(self) -> None:
        """Create the template database at the newest revision (sync: Alembic runs its own loop)."""
        migrations.upgrade(f"sqlite+aiosqlite:///{self.template}")

    def case_settings(self, index: int, llm: LLMEndpoint) -> Settings:
        folder = self.directory / f"case-{index:04d}"
        folder.mkdir(parents=True, exist_ok=True)
        database = folder / "agent_service.db"
        with (
            contextlib.closing(sqlite3.connect(self.template)) as source,
            contextlib.closing(sqlite3.connect(database)) as target,
        ):
            source.backup(target)  # a consistent copy, whatever is left in the template's WAL
        chosen: dict[str, Any] = {
            "environment": "test",
            "data_dir": folder,
            "database_url": f"sqlite:///{database}",
            "jwt_secret": secrets.token_urlsafe(48),
            "argon2_time_cost": 1,
            "argon2_memory_kib": 1024,
            "argon2_parallelism": 1,
            "llm_base_url": llm.base_url,
            "llm_api_key": llm.api_key,
            "llm_model": llm.model,
            "llm_timeout_s": llm.timeout_s,
            # Uploads wake the job runner themselves; its idle polls (a write each) are kept rare,
            # since on SQLite a poll racing a tool's read-then-write makes that write fail with
            # "database is locked" (a deferred transaction cannot be upgraded while another
            # connection writes): a service bug these evals found, outside what a case grades.
            "job_poll_interval_s": 30.0,
            "job_retry_backoff_s": 0.01,
            "job_max_attempts": 2,
            "mail_backend": "file",
            "log_json": False,
        }
        # Every field from its default, not from the environment: a case runs the same anywhere.
        return Settings(_env_file=None, **(HERMETIC_DEFAULTS | chosen))

    @contextlib.asynccontextmanager
    async def case_app(self, index: int, llm: LLMEndpoint) -> AsyncIterator[CaseApp]:
        """The app of case `index`, started (lifespan) and stopped around the block."""
        settings = self.case_settings(index, llm)
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            yield CaseApp(app, settings, httpx.ASGITransport(app=app, raise_app_exceptions=False))
