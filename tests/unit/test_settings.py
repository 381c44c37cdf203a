from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from agent_service.settings import DEV_JWT_SECRET, Settings


def test_default_secret_refused_outside_dev() -> None:
    with pytest.raises(ValidationError, match="JWT_SECRET"):
        Settings(_env_file=None, environment="production")  # type: ignore[call-arg]


def test_default_secret_allowed_in_dev() -> None:
    settings = Settings(_env_file=None, environment="dev")  # type: ignore[call-arg]
    assert settings.jwt_secret.get_secret_value() == DEV_JWT_SECRET


def test_secret_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("JWT_SECRET", "x" * 64)
    assert Settings(_env_file=None).environment == "production"  # type: ignore[call-arg]


def test_secrets_do_not_show_in_repr() -> None:
    settings = Settings(_env_file=None, jwt_secret="s" * 64, llm_api_key="sk-live-123")  # type: ignore[call-arg]
    assert "sk-live-123" not in repr(settings)
    assert "s" * 64 not in repr(settings)


@pytest.mark.parametrize(
    ("given", "resolved"),
    [
        (None, "sqlite+aiosqlite:///var/agent_service.db"),
        ("postgresql://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
        ("sqlite:///x.db", "sqlite+aiosqlite:///x.db"),
    ],
)
def test_database_url_is_normalised(given: str | None, resolved: str) -> None:
    settings = Settings(_env_file=None, database_url=given, data_dir=Path("var"))  # type: ignore[call-arg]
    assert settings.resolved_database_url == resolved


def test_mail_dir_defaults_under_data_dir() -> None:
    settings = Settings(_env_file=None, data_dir=Path("/srv/agent"))  # type: ignore[call-arg]
    assert settings.resolved_mail_dir == Path("/srv/agent/mail")


@pytest.mark.parametrize(
    ("raw", "parsed"),
    [
        ("octocat/Hello-World, acme/app", ["octocat/Hello-World", "acme/app"]),
        ('["octocat/Hello-World"]', ["octocat/Hello-World"]),
        ("", []),
    ],
)
def test_github_repositories_from_environment(
    monkeypatch: pytest.MonkeyPatch, raw: str, parsed: list[str]
) -> None:
    monkeypatch.setenv("GITHUB_REPOSITORIES", raw)
    assert Settings(_env_file=None).github_repositories == parsed  # type: ignore[call-arg]
