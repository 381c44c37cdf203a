"""The judge the golden set gates on: the labelled verdicts it is calibrated against (enough of them,
balanced, every judged rubric, the hard cases marked), the committed calibration matching what the
code measures today, and the gate refusing a judge whose kappa's lower bound is under the setting,
through the real CLI."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent_service.cli import app as cli
from agent_service.evals.judging import SCRIPTED_JUDGE_MODEL, measure_agreement
from agent_service.evals.model_side import ModelMode
from agent_testkit.evals import load_cases
from agent_testkit.evals.agreement import load_judge_cases
from agent_testkit.evals.judge_check import fingerprint, load_calibrations

ROOT = Path(__file__).resolve().parents[2]
LABELLED = ROOT / "evals" / "judge" / "labelled.yaml"
runner = CliRunner()


def test_the_labelled_set_is_large_balanced_and_covers_every_judged_rubric() -> None:
    cases = load_judge_cases(LABELLED)
    assert len(cases) >= 200
    golden_rubrics = {
        e.spec if isinstance(e.spec, str) else e.spec["rubric"]
        for case in load_cases(ROOT / "evals" / "golden")
        for e in case.expect
        if e.kind == "llm_judge"
    }
    by_rubric: dict[str, list[bool]] = {}
    for case in cases:
        by_rubric.setdefault(case.rubric_text, []).append(case.human)
    assert golden_rubrics <= set(by_rubric), "a judged rubric of the golden set has no labels"
    for text, verdicts in by_rubric.items():
        assert len(verdicts) >= 30, text
        assert 0.4 <= sum(verdicts) / len(verdicts) <= 0.6, f"unbalanced: {text}"
    hard = Counter(case.rubric for case in cases if case.hard)
    assert set(hard) == {case.rubric for case in cases} and min(hard.values()) >= 5


def test_the_committed_calibration_is_what_the_code_measures() -> None:
    measured = asyncio.run(
        measure_agreement(
            load_judge_cases(LABELLED),
            ModelMode.SCRIPTED,
            cassette=Path("unused.yaml"),
            live=None,
            record=False,
        )
    )
    now = measured.calibration(LABELLED.read_bytes(), "")
    kept = load_calibrations(ROOT / "evals" / "judge" / "calibration.json")[SCRIPTED_JUDGE_MODEL]
    again = "rerun `agent-service eval judge-agreement --save`"
    assert kept.labelled_sha256 == fingerprint(LABELLED.read_bytes()), again
    assert (kept.labels, kept.kappa, kept.kappa_low, kept.kappa_high) == (
        now.labels,
        now.kappa,
        now.kappa_low,
        now.kappa_high,
    ), again
    assert kept.labels >= 200 and kept.kappa_low is not None and kept.kappa_low >= 0.6


JUDGED = """
- id: triage-judged
  tags: [triage]
  agent: assistant
  turns: ["what do I drop?"]
  script: [{reply: "Drop 'Write OKRs': it is not due this week."}]
  judge: [{verdict: {score: 0.9, reasoning: Names a task and a reason.}}]
  expect: [{contains: OKRs}, {llm_judge: "Names a task to postpone with a reason."}]
"""
HELLO = """
- id: tasks-hello
  tags: [tasks]
  agent: assistant
  turns: ["hi"]
  script: [{reply: "Hello!"}]
  expect: [{contains: Hello}]
"""


def labelled(agreeing: int, disagreeing: int) -> str:
    """A labelled set where the scripted judge agrees with the person `agreeing` times."""
    entries = []
    for n in range(agreeing + disagreeing):
        human = n % 2 == 0
        judge_passes = human if n < agreeing else not human
        entries.append(
            f"  - {{id: c{n}, rubric: drop, human: {'pass' if human else 'fail'}, "
            f"turns: [{{user: u, reply: r{n}}}], "
            f"judge: {{score: {0.9 if judge_passes else 0.1}, reasoning: x}}}}"
        )
    return "rubrics:\n  drop: Names a task to postpone with a reason.\ncases:\n" + "\n".join(
        entries
    )


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "evals" / "golden").mkdir(parents=True)
    (tmp_path / "evals" / "judge").mkdir()
    (tmp_path / "evals" / "golden" / "cases.yaml").write_text(JUDGED + HELLO)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("EVAL_JUDGE_MIN_KAPPA", raising=False)
    return tmp_path


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = runner.invoke(cli, ["eval", *args], env=env)
    return result.exit_code, result.output


def test_the_gate_refuses_a_judge_that_is_not_calibrated_well_enough(project: Path) -> None:
    labels = project / "evals" / "judge" / "labelled.yaml"
    labels.write_text(labelled(agreeing=15, disagreeing=5))  # kappa 0.5, lower bound ~0.12
    assert run("run", "--no-gate")[0] == 0 and run("accept")[0] == 0

    code, output = run("run")  # the scores are the baseline's, but nobody measured the judge
    assert code == 1
    assert "gate REFUSED: the judge 'fake-judge' was never calibrated" in output

    code, output = run("judge-agreement", "--save")
    assert code == 0 and "0.50" in output
    kept = json.loads((project / "evals" / "judge" / "calibration.json").read_text())
    assert kept["judges"]["fake-judge"]["labels"] == 20
    code, output = run("run")
    assert (
        code == 1 and "gate REFUSED: the judge 'fake-judge' agrees with people too little" in output
    )
    assert "REFUSED" in (project / "var" / "evals" / "report.html").read_text()

    code, output = run("run", env={"EVAL_JUDGE_MIN_KAPPA": "0.1"})  # the setting decides
    assert code == 0 and "gate passed" in output

    labels.write_text(labelled(agreeing=40, disagreeing=0))  # a better judge, not yet measured
    code, output = run("run", env={"EVAL_JUDGE_MIN_KAPPA": "0.1"})
    assert code == 1 and "calibration is stale (the labelled set changed since)" in output
    assert run("judge-agreement", "--save")[0] == 0
    code, output = run("run")
    assert code == 0 and "the judge 'fake-judge' is calibrated: Cohen's kappa 1.00" in output


def test_a_run_without_judged_cases_needs_no_calibration(project: Path) -> None:
    golden = project / "evals" / "golden" / "cases.yaml"
    golden.write_text(HELLO)
    assert run("run", "--no-gate")[0] == 0 and run("accept")[0] == 0
    code, output = run("run")
    assert code == 0 and "gate passed" in output and "judge:" not in output
