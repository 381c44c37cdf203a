"""The service as a user runs it: a process, real HTTP, JSON logs with request ids."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.service_process import running_service

pytestmark = pytest.mark.e2e


@pytest.fixture
def service(tmp_path: Path, isolated_database_url: str) -> Iterator[tuple[str, Path]]:
    env = {
        "DATA_DIR": str(tmp_path / "var"),
        "DATABASE_URL": isolated_database_url,
        "ENVIRONMENT": "production",
        "JWT_SECRET": "e2e-" + "0123456789abcdef" * 4,
        "ARGON2_TIME_COST": "1",
        "ARGON2_MEMORY_KIB": "1024",
        "FIRST_ADMIN_EMAIL": "ops@example.com",
        "FIRST_ADMIN_PASSWORD": "ops-password-1",
    }
    log_path = tmp_path / "service.log"
    with running_service(env, log_path=log_path) as base_url:
        yield base_url, log_path


def test_register_login_and_admin_over_real_http(service: tuple[str, Path]) -> None:
    base_url, log_path = service
    with httpx.Client(base_url=base_url, timeout=10) as client:
        assert client.get("/docs").status_code == 200
        r = client.post(
            "/api/auth/register", json={"email": "e2e@example.com", "password": "e2e-password-1"}
        )
        assert r.status_code == 201
        token = client.post(
            "/api/auth/login", json={"email": "e2e@example.com", "password": "e2e-password-1"}
        ).json()["access_token"]
        r = client.get(
            "/api/profile",
            headers={"Authorization": f"Bearer {token}", "X-Request-ID": "e2e-req-1"},
        )
        assert r.status_code == 200
        assert r.headers["x-request-id"] == "e2e-req-1"

        admin_token = client.post(
            "/api/auth/token", data={"username": "ops@example.com", "password": "ops-password-1"}
        ).json()["access_token"]
        r = client.get("/api/admin/users", headers={"Authorization": f"Bearer {admin_token}"})
        assert r.status_code == 200
        emails = {u["email"] for u in r.json()}
        assert {"e2e@example.com", "ops@example.com"} <= emails

    lines = [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")]
    access = [entry for entry in lines if entry.get("logger") == "agent_service.access"]
    assert any(e.get("request_id") == "e2e-req-1" and e["status"] == 200 for e in access)
    assert "e2e-password-1" not in log_path.read_text()


def test_serve_with_the_fake_llm_chats_offline(tmp_path: Path, isolated_database_url: str) -> None:
    env = {
        "DATA_DIR": str(tmp_path / "var"),
        "DATABASE_URL": isolated_database_url,
        "LLM_API_KEY": "",
        "ARGON2_TIME_COST": "1",
        "ARGON2_MEMORY_KIB": "1024",
    }
    log_path = tmp_path / "service.log"
    with (
        running_service(env, log_path=log_path, extra_args=("--llm", "fake")) as base_url,
        httpx.Client(base_url=base_url, timeout=10) as client,
    ):
        credentials = {"email": "demo@example.com", "password": "demo-password-1"}
        assert client.post("/api/auth/register", json=credentials).status_code == 201
        token = client.post("/api/auth/login", json=credentials).json()["access_token"]
        r = client.post(
            "/api/agent/chat",
            json={"message": "hello"},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert r.status_code == 200, r.text
    assert r.json()["response"] == "This is the fake LLM's default reply."
