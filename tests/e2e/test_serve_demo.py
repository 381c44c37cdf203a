"""`agent-service serve` as a newcomer runs it: the demo model acts, the mailed link is at the port
really served, logs are readable text in dev, and a kit script file answers with `--llm fake`."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from tests.faults import wait_until
from tests.service_process import running_service

# A service process on 2 shared cores: start-up alone has taken 60 s under load.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(200)]

CREDENTIALS = {"email": "newcomer@example.com", "password": "newcomer-pass-1"}


def service_env(tmp_path: Path, database_url: str) -> dict[str, str]:
    return {
        "DATA_DIR": str(tmp_path / "var"),
        "DATABASE_URL": database_url,
        "ENVIRONMENT": "dev",
        "LLM_API_KEY": "",
        "ARGON2_TIME_COST": "1",
        "ARGON2_MEMORY_KIB": "1024",
    }


def sign_in(client: httpx.Client) -> dict[str, str]:
    token = client.post("/api/auth/login", json=CREDENTIALS).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def test_demo_model_mail_link_and_text_logs(tmp_path: Path, isolated_database_url: str) -> None:
    log_path = tmp_path / "service.log"
    env = service_env(tmp_path, isolated_database_url)
    with (
        running_service(
            env, log_path=log_path, extra_args=("--llm", "demo"), startup_timeout=90
        ) as base_url,
        httpx.Client(base_url=base_url, timeout=20) as client,
    ):
        assert client.post("/api/auth/register", json=CREDENTIALS).status_code == 201
        mail_dir = tmp_path / "var" / "mail"
        # The mail is sent after the answer (a background task), so the answer cannot time who exists.
        wait_until(lambda: any(mail_dir.glob("*.eml")), timeout_s=20, what="the verification mail")
        [eml] = mail_dir.glob("*.eml")
        link = re.search(rb"(\S+)/verify-email\?token=(\S+)", eml.read_bytes())
        assert link is not None
        assert link.group(1).decode() == base_url  # the port serve really listens on
        r = client.post("/api/auth/verify-email", json={"token": link.group(2).decode()})
        assert r.status_code == 200, r.text

        headers = sign_in(client)
        r = client.post(
            "/api/agent/chat",
            json={"message": "add a high-priority task to water the plants"},
            headers=headers,
        )
        assert r.status_code == 200, r.text
        assert [c["name"] for c in r.json()["tool_calls"]] == ["create_task"]
        [task] = client.get("/api/tasks", headers=headers).json()
        assert (task["title"], task["priority"]) == ("Water the plants", "high")

    log = log_path.read_text()
    assert not any(line.startswith("{") for line in log.splitlines())  # text, not JSON, in dev
    assert "agent_service.access: POST /api/agent/chat 200" in log
    assert "alembic.runtime.migration: Running upgrade" in log or isolated_database_url
    assert log.index("Chats are answered offline by the demo model") < log.index("Serving on")
    assert f"Serving on {base_url} " in log


def test_fake_llm_serves_a_script_file(tmp_path: Path, isolated_database_url: str) -> None:
    script = tmp_path / "script.yaml"
    script.write_text(
        "script:\n"
        "  - tool_call: {name: create_task, arguments: {title: Scripted task}}\n"
        "  - reply: The script made a task.\n"
    )
    env = service_env(tmp_path, isolated_database_url)
    args = ("--llm", "fake", "--llm-script", str(script))
    with (
        running_service(
            env, log_path=tmp_path / "service.log", extra_args=args, startup_timeout=90
        ) as base_url,
        httpx.Client(base_url=base_url, timeout=20) as client,
    ):
        assert client.post("/api/auth/register", json=CREDENTIALS).status_code == 201
        headers = sign_in(client)
        r = client.post("/api/agent/chat", json={"message": "anything"}, headers=headers)
        assert r.status_code == 200, r.text
        assert r.json()["response"] == "The script made a task."
        assert [t["title"] for t in client.get("/api/tasks", headers=headers).json()] == [
            "Scripted task"
        ]
        r = client.post("/api/agent/chat", json={"message": "again"}, headers=headers)
        assert r.json()["response"] == "This is the fake LLM's default reply."  # past the script
