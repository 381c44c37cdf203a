"""`agent-service eval run|accept|report` and its gate, end to end on a small golden set: a run is
accepted as the baseline; a baseline 3 points above one slice (the rest unchanged) fails the gate,
1 point above passes; the reports are written."""

from __future__ import annotations

import json
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent_service.cli import app as cli

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]

CASES = """
- id: tasks-create
  tags: [tasks]
  agent: assistant
  turns: ["add a task to call the dentist"]
  script:
    - tool_call: {name: create_task, arguments: {title: Call the dentist}}
    - reply: "Added 'Call the dentist'."
  expect:
    - {state: {get: /api/tasks, match: {title: Call the dentist}}, weight: 2}
    - contains: dentist
- id: tasks-half
  tags: [tasks]
  agent: assistant
  turns: ["hi"]
  script: [{reply: "Hello!"}]
  expect: [{contains: Hello}, {contains: Goodbye}]
- id: errors-timeout
  tags: [errors]
  agent: assistant
  turns: ["hi"]
  script: [{server_error: {status: 503}}, {server_error: {status: 503}}, {server_error: {status: 503}}]
  expect: [{http_status: {status: 503, error: llm_unavailable}}]
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder laid out like the repository: evals/golden, evals/baseline.json, var/evals."""
    (tmp_path / "evals" / "golden").mkdir(parents=True)
    (tmp_path / "evals" / "golden" / "cases.yaml").write_text(textwrap.dedent(CASES))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(cli, ["eval", *args])
    return result.exit_code, result.output


def baseline_with(project: Path, **slices: float) -> None:
    path = project / "evals" / "baseline.json"
    data = json.loads(path.read_text())
    data["slices"].update(slices)
    path.write_text(json.dumps(data))


def test_run_accept_then_the_gate(project: Path) -> None:
    code, output = run("run")
    assert code == 2 and "run `eval accept` to create one" in output
    assert (project / "var" / "evals" / "report.html").exists()

    code, output = run("accept")
    assert code == 0 and "overall 83.33 over 3 cases (1 epoch each), 2 slices" in output
    baseline = json.loads((project / "evals" / "baseline.json").read_text())
    assert baseline["slices"] == {"errors": 100.0, "tasks": 75.0}
    assert baseline["cases"] == {"errors-timeout": 100.0, "tasks-create": 100.0, "tasks-half": 50.0}

    code, output = run("run")
    assert code == 0 and "gate passed" in output

    baseline_with(project, tasks=78.0)  # this run is 3 points below it, the rest unchanged
    code, output = run("run")
    assert code == 1
    assert "gate FAILED: slice tasks dropped 3.00 points (78.00 -> 75.00)" in output
    junit = ET.parse(project / "var" / "evals" / "junit.xml").getroot()  # noqa: S314 - ours
    gate = next(s for s in junit.findall("testsuite") if s.get("name") == "gate")
    assert [c.get("name") for c in gate.findall("testcase") if c.find("failure") is not None] == [
        "slice tasks"
    ]

    baseline_with(project, tasks=76.0)  # 1 point
    code, output = run("run")
    assert code == 0 and "gate passed" in output


def test_a_slice_that_disappears_fails_the_gate(project: Path) -> None:
    assert run("run", "--no-gate")[0] == 0
    assert run("accept")[0] == 0
    baseline_with(project, documents=90.0)
    code, output = run("run")
    assert code == 1 and "slice documents is gone" in output


def test_report_renders_again_against_another_baseline(project: Path, tmp_path: Path) -> None:
    assert run("run", "--no-gate")[0] == 0
    assert run("accept")[0] == 0
    strict = tmp_path / "strict.json"
    data = json.loads((project / "evals" / "baseline.json").read_text())
    data["overall"] = 99.0
    strict.write_text(json.dumps(data))

    code, output = run("report", "--baseline", str(strict), "--out", str(tmp_path / "again"))
    assert code == 0 and "gate FAILED: overall dropped" in output
    assert run("report", "--baseline", str(strict), "--check")[0] == 1
    html = (tmp_path / "again" / "report.html").read_text()
    assert "<svg" in html and "overall dropped 15.67 points" in html


def test_filtered_runs_compare_the_same_cases_and_cannot_be_accepted(project: Path) -> None:
    assert run("run", "--no-gate")[0] == 0
    assert run("accept")[0] == 0
    code, output = run("run", "--case", "errors-*")
    assert code == 0 and "slice errors" in output and "slice tasks" not in output
    code, output = run("accept")
    assert code == 2 and "filtered run" in output


def test_usage_errors(project: Path) -> None:
    assert run("run", "--model", "gpt")[0] == 2
    code, output = run("run", "--case", "nothing-matches")
    assert code == 2 and "no case matches" in output
    (project / "var" / "evals").mkdir(parents=True, exist_ok=True)
    code, output = run("accept", "--results", "var/evals/nope.json")
    assert code == 2 and "run `agent-service eval run` first" in output


def test_live_without_a_key_says_what_to_set(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LLM_API_KEY", raising=False)
    code, output = run("run", "--model", "live")
    assert code == 2 and "LLM_API_KEY" in output


def test_plan_prints_power_per_slice_and_what_reaches_80_percent(project: Path) -> None:
    code, output = run("plan", "--slice-sizes", "8,42", "--epochs", "1,5", "--drop", "3")
    assert code == 0, output
    assert "Power to catch a 3-point drop (3 comparisons, Holm, family-wise alpha 0.05" in output
    rows = [line for line in output.splitlines() if line.startswith(("│ s1", "│ s2", "│ overall"))]
    assert len(rows) == 6  # overall (50 cases) and two slices, at 1 and 5 epochs
    assert "noise: the noise model" in output and "under 80%" in output
    code, output = run("plan", "--epochs", "5", "--drop", "5")  # the golden set's own slices
    assert code == 0 and "│ tasks" in output and "│ errors" in output


def test_plan_refuses_sizes_that_are_not_numbers(project: Path) -> None:
    code, output = run("plan", "--slice-sizes", "8,many")
    assert code == 2 and "give whole numbers" in output


def test_run_reports_tokens_and_cost_per_case_and_slice(project: Path) -> None:
    code, output = run("run", "--no-gate", "--input-price", "2", "--output-price", "8")
    assert code == 0 and "spend: " in output and " tokens (" in output and "$0.0" in output
    results = json.loads((project / "var" / "evals" / "results.json").read_text())
    spend = results["spend"]
    assert set(spend["slices"]) == {"tasks", "errors"} and spend["overall"]["attempts"] == 3
    created = spend["cases"]["tasks-create"]
    assert created["prompt_tokens"] > 0 and created["cost_usd"] == pytest.approx(
        (created["prompt_tokens"] * 2 + created["completion_tokens"] * 8) / 1e6
    )
    html = (project / "var" / "evals" / "report.html").read_text()
    assert 'id="spend-slices"' in html and "cost / attempt" in html


def test_an_interrupted_run_resumes_from_its_journal(project: Path) -> None:
    assert run("run", "--no-gate")[0] == 0
    journal = project / "var" / "evals" / "attempts.jsonl"
    lines = journal.read_text().splitlines()
    assert len(lines) == 3
    scores = json.loads((project / "var" / "evals" / "results.json").read_text())["scores"]
    journal.write_text(lines[0] + "\n" + lines[1][:40])  # stopped after one attempt, mid-line

    code, output = run("run", "--no-gate", "--resume")
    assert code == 0 and "evals: 2 attempts to run" in output
    resumed = json.loads((project / "var" / "evals" / "results.json").read_text())
    assert resumed["scores"] == scores and len(resumed["cases"]) == 3
    assert len(journal.read_text().splitlines()) == 3

    code, output = run("run", "--no-gate", "--resume", "--seed", "7")  # made another way
    assert code == 0 and "evals: 3 attempts to run" in output
    code, output = run("run", "--no-gate")  # without --resume: everything again
    assert code == 0 and "evals: 3 attempts to run" in output


def test_a_rate_limit_paces_the_run_and_must_be_positive(project: Path) -> None:
    code, output = run("run", "--no-gate", "--rate-limit", "6000")  # one start every 10 ms
    assert code == 0 and "evals: 3 attempts to run" in output
    code, output = run("run", "--rate-limit", "0")
    assert code == 2 and "--rate-limit" in output
