"""The CI workflow and the compose stack, checked as data (no Docker engine or GitHub here): the job
order the README promises, the PostgreSQL service, the eval report artifact, and a compose file whose
services, dependencies and commands fit together."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]


def load(path: str) -> dict[str, Any]:
    data = yaml.safe_load((ROOT / path).read_text())
    assert isinstance(data, dict)
    return data


def make_targets() -> set[str]:
    return set(re.findall(r"^([a-z-]+):", (ROOT / "Makefile").read_text(), re.MULTILINE))


def test_workflow_runs_lint_unit_integration_then_the_eval_gate() -> None:
    workflow = load(".github/workflows/ci.yml")
    triggers = workflow[True] if True in workflow else workflow["on"]  # YAML 1.1 reads `on` as true
    assert "pull_request" in triggers and "push" in triggers
    jobs = workflow["jobs"]
    assert list(jobs) == ["lint", "unit", "integration", "evals"]
    assert [jobs[name].get("needs") for name in jobs] == [None, "lint", "unit", "integration"]
    for job in jobs.values():
        assert job["runs-on"] == "ubuntu-latest" and job["timeout-minutes"] <= 30
        assert job["steps"][0]["uses"].startswith("actions/checkout@")


def test_every_make_target_the_workflow_runs_exists() -> None:
    workflow = load(".github/workflows/ci.yml")
    runs = [s["run"] for job in workflow["jobs"].values() for s in job["steps"] if "run" in s]
    used = {target for run in runs for target in re.findall(r"\bmake ([a-z-]+)", run)}
    assert used == {"install", "lint", "eval"}
    assert used <= make_targets()


def test_integration_has_postgres_and_requires_it() -> None:
    job = load(".github/workflows/ci.yml")["jobs"]["integration"]
    postgres = job["services"]["postgres"]
    assert postgres["image"].startswith("postgres:")
    assert "pg_isready" in postgres["options"]
    assert job["env"]["REQUIRE_POSTGRES"] == "1"
    assert job["env"]["TEST_DATABASE_URL"].startswith("postgresql+psycopg://")


def test_the_eval_report_is_uploaded_even_when_the_gate_fails() -> None:
    steps = load(".github/workflows/ci.yml")["jobs"]["evals"]["steps"]
    [upload] = [s for s in steps if s.get("uses", "").startswith("actions/upload-artifact@")]
    assert upload["if"] == "always()"
    assert upload["with"]["path"] == "var/evals/"
    assert any(s.get("run") == "make eval" for s in steps)


def test_compose_has_the_service_worker_postgres_and_the_fake_llm() -> None:
    compose = load("compose.yaml")
    services = compose["services"]
    assert {"service", "worker", "postgres", "fake-llm"} <= set(services)
    assert services["fake-llm"]["command"][1:3] == ["-m", "agent_testkit.fake_llm"]
    assert services["worker"]["command"][-1] == "worker"
    assert services["service"]["environment"]["LLM_BASE_URL"] == "http://fake-llm:8001/v1"
    assert services["service"]["environment"]["JOB_RUNNER"] == "procrastinate"
    assert services["postgres"]["image"].startswith("postgres:")


def test_compose_dependencies_name_services_and_conditions_that_exist() -> None:
    compose = load("compose.yaml")
    services = compose["services"]
    conditions = {"service_started", "service_healthy", "service_completed_successfully"}
    for name, service in services.items():
        for dependency, rule in (service.get("depends_on") or {}).items():
            assert dependency in services, f"{name} depends on unknown {dependency}"
            assert rule["condition"] in conditions
            if rule["condition"] == "service_healthy":
                assert "healthcheck" in services[dependency], f"{dependency} has no healthcheck"
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            assert source == "." or source in compose["volumes"], f"{name}: unknown volume {source}"
        for port in service.get("ports", []):
            assert re.fullmatch(r"\d+:\d+", port)
