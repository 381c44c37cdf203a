"""Each gate check of the golden set as a test: the overall score and every slice, against
evals/baseline.json. The same verdicts as `agent-service eval run`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent_testkit.evals import EvalRun, changed_cases, load_cases

EVALS = Path(__file__).resolve().parent


def gate_checks() -> list[str]:
    """The checks to expect: the baseline's slices (a missing one must fail) and the cases' tags."""
    baseline = json.loads((EVALS / "baseline.json").read_text())
    tags = {tag for case in load_cases(EVALS / "golden") for tag in case.tags}
    return ["overall", *(f"slice {name}" for name in sorted(set(baseline["slices"]) | tags))]


@pytest.mark.parametrize("check", gate_checks())
def test_gate(eval_run: EvalRun, check: str) -> None:
    found = {c.name: c for c in eval_run.gate.checks}[check]
    if found.passed:
        return
    slice_name = check.removeprefix("slice ")
    moved = [
        f"  {c.case_id}: {c.baseline} -> {c.current}: {c.reason}"
        for c in changed_cases(eval_run.results, eval_run.baseline)
        if check == "overall" or slice_name in c.tags
    ]
    pytest.fail("\n".join([found.reason, "cases that moved:", *moved]), pytrace=False)


def test_the_judge_may_gate(eval_run: EvalRun) -> None:
    """The scores of judged cases count only when the judge is calibrated well enough."""
    judge = eval_run.gate.judge
    if judge is not None and not judge.passed:
        pytest.fail(judge.reason, pytrace=False)
