"""What `agent-service serve` tells a person before it serves: help, a busy port, a bad option;
the log formats; the 503 that points at the offline demo model."""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner, Result

from agent_service.cli import app as cli
from agent_service.observability import JsonFormatter, TextFormatter, request_id_var
from tests.factories import TestUser

runner = CliRunner()


def run_cli(*args: str, data_dir: Path | None = None) -> Result:
    """The CLI in-process, as an 80-column terminal shows it (nothing here gets as far as serving)."""
    env = {"COLUMNS": "80", **({"DATA_DIR": str(data_dir)} if data_dir else {})}
    return runner.invoke(cli, list(args), env=env, terminal_width=80)


@pytest.mark.parametrize(
    "command",
    [
        *[(), ("serve",), ("worker",), ("db",), ("db", "upgrade"), ("db", "revision")],
        *[("create-admin",), ("eval",)],
        *[("eval", command) for command in ("run", "accept", "report", "judge-agreement")],
    ],
)
def test_help_is_plain_and_fits_80_columns(command: tuple[str, ...]) -> None:
    result = run_cli(*command, "--help")
    assert result.exit_code == 0, result.output
    for noise in ("<bool>", "<str>", "<int>", "╭"):
        assert noise not in result.output
    assert max(len(line) for line in result.output.splitlines()) <= 80


def test_serve_help_names_the_offline_models() -> None:
    out = run_cli("serve", "--help").output
    assert "--llm demo|fake" in out and "--llm-script FILE" in out and "--port PORT" in out


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def test_a_busy_port_is_reported_before_serving(busy_port: int, tmp_path: Path) -> None:
    result = run_cli("serve", "--port", str(busy_port), "--llm", "demo", data_dir=tmp_path)
    assert result.exit_code == 1
    assert f"Port {busy_port} on 127.0.0.1 is in use" in result.output
    assert "--port" in result.output
    assert "Serving on" not in result.output
    assert "demo model" not in result.output  # nothing was started before the bind


@pytest.mark.parametrize(
    "args", [("--llm", "gpt"), ("--llm", "demo", "--llm-script", "script.yaml")]
)
def test_an_unknown_offline_model_is_refused(args: tuple[str, ...], tmp_path: Path) -> None:
    result = run_cli("serve", "--port", "0", *args, data_dir=tmp_path)
    assert result.exit_code == 2
    assert "--llm takes 'demo' or 'fake'" in result.output
    assert "Serving on" not in result.output


def record(msg: str, **extra: object) -> logging.LogRecord:
    entry = logging.makeLogRecord({"name": "agent_service.access", "levelname": "INFO", "msg": msg})
    entry.__dict__.update(extra)
    return entry


def test_text_logs_read_as_one_line_with_their_fields() -> None:
    token = request_id_var.set("req-1")
    try:
        line = TextFormatter().format(
            record("POST /api/tasks 201", method="POST", status=201, duration_ms=3.5)
        )
    finally:
        request_id_var.reset(token)
    assert "INFO    agent_service.access: POST /api/tasks 201" in line
    assert line.endswith("[duration_ms=3.5 request_id=req-1]")
    assert "\n" not in line


def test_json_logs_carry_the_same_fields() -> None:
    entry = json.loads(JsonFormatter().format(record("GET /healthz 200", duration_ms=1.0)))
    assert entry["msg"] == "GET /healthz 200" and entry["duration_ms"] == 1.0


async def test_chat_without_a_model_points_at_the_demo(
    client: httpx.AsyncClient, user: TestUser
) -> None:
    r = await client.post("/api/agent/chat", json={"message": "hi"}, headers=user.headers)
    assert r.status_code == 503
    assert r.json()["error"] == "llm_not_configured"
    assert "LLM_API_KEY" in r.json()["detail"] and "--llm demo" in r.json()["detail"]
