"""The gate refuses a judge it cannot trust: never calibrated, calibrated on another labelled set or
prompt, or with the lower bound of its kappa under the setting; a trusted judge lets the gate
decide as before. The verdict travels with the results file."""

import pytest

from agent_testkit.evals import Baseline, CaseResult, EvalRun, compare, load_results
from agent_testkit.evals.judge_check import (
    JudgeCalibration,
    JudgeCheck,
    check_judge,
    fingerprint,
    load_calibrations,
    save_calibration,
)
from agent_testkit.evals.reports import render_html, write_results

LABELS, PROMPT = fingerprint(b"labelled"), fingerprint("prompt")


def calibration(model: str = "judge-1", low: float = 0.68, **changes) -> JudgeCalibration:
    values = dict(
        model=model,
        labels=203,
        kappa=0.76,
        kappa_low=low,
        kappa_high=0.85,
        labelled_sha256=LABELS,
        prompt_sha256=PROMPT,
    )
    return JudgeCalibration(**(values | changes))


def check(found: dict[str, JudgeCalibration], model: str = "judge-1", **options) -> JudgeCheck:
    return check_judge(model, found, labelled_sha256=LABELS, prompt_sha256=PROMPT, **options)


def test_a_judge_with_a_high_enough_lower_bound_may_gate():
    found = check({"judge-1": calibration()})
    assert found.passed
    assert found.reason == (
        "the judge 'judge-1' is calibrated: Cohen's kappa 0.76, 95% interval [0.68, 0.85] on 203 labels"
    )


def test_a_low_lower_bound_is_refused_even_when_kappa_itself_looks_fine():
    found = check({"judge-1": calibration(low=0.52, kappa=0.7)})
    assert not found.passed and "lower bound under 0.6" in found.reason
    assert check({"judge-1": calibration(low=0.52)}, min_kappa=0.5).passed  # the setting decides


@pytest.mark.parametrize(
    ("changes", "what"),
    [
        ({"labelled_sha256": fingerprint(b"other")}, "labelled set"),
        ({"prompt_sha256": "x"}, "prompt"),
    ],
)
def test_a_stale_calibration_is_refused(changes, what):
    found = check({"judge-1": calibration(**changes)})
    assert not found.passed and f"stale (the {what} changed since)" in found.reason


def test_a_judge_never_calibrated_is_refused():
    found = check({"judge-1": calibration()}, model="gpt-x")
    assert not found.passed
    assert "the judge 'gpt-x' was never calibrated" in found.reason
    assert "eval judge-agreement --save" in found.reason


def test_calibrations_are_kept_per_model(tmp_path):
    path = tmp_path / "judge" / "calibration.json"
    save_calibration(path, calibration("judge-1"))
    save_calibration(path, calibration("judge-2", low=0.3))
    save_calibration(path, calibration("judge-1", low=0.7))
    found = load_calibrations(path)
    assert sorted(found) == ["judge-1", "judge-2"]
    assert found["judge-1"].kappa_low == 0.7 and found["judge-2"].kappa_low == 0.3
    assert load_calibrations(tmp_path / "missing.json") == {}


def test_the_gate_refuses_whatever_the_scores_say(tmp_path):
    results = [
        CaseResult("a", ("s",), "assistant", 100.0),
        CaseResult("b", ("s",), "assistant", 100.0),
    ]
    refused = check({"judge-1": calibration(low=0.4)})
    run = EvalRun.of(results, None, max_drop=2.0, model="scripted")
    baseline = Baseline.from_scores(run.scores)
    trusted = EvalRun.of(
        results,
        baseline,
        max_drop=2.0,
        model="scripted",
        judge_check=check({"judge-1": calibration()}),
    )
    assert trusted.gate.passed and not trusted.gate.refused
    gated = EvalRun.of(results, baseline, max_drop=2.0, model="scripted", judge_check=refused)
    assert all(c.passed for c in gated.gate.checks)  # no score dropped ...
    assert not gated.gate.passed and gated.gate.refused  # ... yet the gate does not pass
    assert gated.gate.summary().startswith(
        "gate REFUSED: the judge 'judge-1' agrees with people too little"
    )
    assert gated.gate.to_json()["judge"]["kappa_low"] == 0.4
    assert 'class="badge failed">REFUSED' in render_html(gated)
    again = load_results(write_results(gated, tmp_path / "results.json"))
    assert again.gate.refused and again.gate.judge == refused
    assert compare(run.scores, baseline).judge is None  # no judge: nothing to refuse
