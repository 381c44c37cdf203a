"""Scores per case, per slice and overall, and the gate against a baseline: a 3-point drop in one
slice (everything else unchanged) fails it, a 1-point drop passes, a vanished slice fails."""

import json

import pytest

from agent_testkit.evals import (
    Baseline,
    CaseResult,
    GraderResult,
    aggregate,
    case_score,
    changed_cases,
    compare,
)


def graded(score: float, weight: float = 1.0, passed: bool | None = None) -> GraderResult:
    return GraderResult(
        "contains", "contains 'x'", weight, score, score >= 1 if passed is None else passed, "why"
    )


def test_case_score_is_the_weighted_mean_in_points():
    assert case_score([graded(1), graded(0, weight=3)], []) == 25.0
    assert case_score([graded(1, 2), graded(0.5, 2)], []) == 75.0
    assert case_score([graded(1)], ["the fake got a call beyond its script"]) == 0.0
    assert case_score([], []) == 0.0


def result(case_id: str, score: float, *tags: str) -> CaseResult:
    return CaseResult(case_id, tags, "assistant", score)


RESULTS = [
    result("a", 100, "tasks"),
    result("b", 50, "tasks", "safety"),
    result("c", 100, "safety"),
    result("d", 70, "errors"),
]


def test_slices_average_the_cases_tagged_with_them():
    scores = aggregate(RESULTS)
    assert scores.overall == 80.0
    assert scores.slices == {"errors": 70.0, "safety": 75.0, "tasks": 75.0}
    assert scores.cases == {"a": 100, "b": 50, "c": 100, "d": 70}


def baseline_with(**slices: float) -> Baseline:
    """This run's scores as a baseline, with some slices changed."""
    scores = aggregate(RESULTS)
    return Baseline(scores.overall, {**scores.slices, **slices}, scores.cases)


def test_the_gate_fails_on_a_three_point_drop_in_one_slice():
    baseline = baseline_with(safety=78.0)  # this run: 75.0, the rest unchanged
    report = compare(aggregate(RESULTS), baseline, max_drop=2.0)
    assert not report.passed
    [failure] = report.failures
    assert failure.name == "slice safety" and failure.delta == -3.0
    assert "slice safety dropped 3.00 points (78.00 -> 75.00)" in report.summary()
    assert all(c.passed for c in report.checks if c.name != "slice safety")


def test_the_gate_passes_on_a_one_point_drop():
    report = compare(aggregate(RESULTS), baseline_with(safety=76.0), max_drop=2.0)
    assert report.passed
    assert report.summary() == "gate passed: no score dropped by more than 2 points"


def test_exactly_max_drop_passes_and_a_hair_more_fails():
    assert compare(aggregate(RESULTS), baseline_with(tasks=77.0)).passed
    assert not compare(aggregate(RESULTS), baseline_with(tasks=77.01)).passed


def test_the_overall_score_is_gated_too():
    scores = aggregate(RESULTS)
    baseline = Baseline(scores.overall + 2.5, dict(scores.slices), scores.cases)
    report = compare(scores, baseline)
    assert [c.name for c in report.failures] == ["overall"]


def test_a_slice_that_disappears_fails_and_a_new_one_passes():
    scores = aggregate(RESULTS)
    baseline = Baseline(scores.overall, {"tasks": 75.0, "documents": 90.0}, {})
    report = compare(scores, baseline)
    by_name = {c.name: c for c in report.checks}
    assert not by_name["slice documents"].passed
    assert by_name["slice documents"].reason == "slice documents is gone (it scored 90.00)"
    assert (
        by_name["slice errors"].passed
        and by_name["slice errors"].reason == "slice errors is new: 70.00"
    )


def test_a_better_score_passes():
    assert compare(aggregate(RESULTS), baseline_with(tasks=40.0)).passed


def test_the_max_drop_is_configurable():
    assert not compare(aggregate(RESULTS), baseline_with(safety=76.0), max_drop=0.5).passed


def test_no_baseline_passes_but_says_so():
    report = compare(aggregate(RESULTS), None)
    assert report.passed and not report.has_baseline
    assert "run `eval accept`" in report.summary()


def test_the_baseline_file_round_trips_and_has_no_timestamp(tmp_path):
    path = tmp_path / "baseline.json"
    baseline = Baseline.from_scores(aggregate(RESULTS))
    baseline.save(path)
    first = path.read_text()
    Baseline.load(path).save(path)
    assert path.read_text() == first
    data = json.loads(first)
    assert set(data) == {"version", "model", "overall", "slices", "cases"}
    assert list(data["slices"]) == sorted(data["slices"])


def test_an_unreadable_baseline_says_so(tmp_path):
    from agent_testkit.evals import BaselineError

    (tmp_path / "b.json").write_text("{}")
    with pytest.raises(BaselineError, match="cannot read the baseline"):
        Baseline.load(tmp_path / "b.json")


def test_a_filtered_run_is_compared_with_the_same_cases_of_the_baseline():
    baseline = Baseline.from_scores(aggregate(RESULTS))
    subset = [result("a", 100, "tasks"), result("b", 20, "tasks", "safety")]
    restricted = baseline.restricted(subset)
    assert restricted.slices == {"safety": 50.0, "tasks": 75.0}
    assert restricted.overall == 75.0


def test_changed_cases_worst_first_with_reasons():
    baseline = Baseline(0, {}, {"a": 100, "b": 50, "gone": 100})
    now = [
        result("a", 60, "tasks"),
        result("b", 75, "tasks"),
        result("new", 100, "tasks"),
    ]
    now[0].graders = [graded(0, passed=False)]
    changes = changed_cases(now, baseline)
    assert [(c.case_id, c.delta) for c in changes] == [
        ("a", -40.0),
        ("new", None),
        ("b", 25.0),
        ("gone", None),
    ]
    assert changes[0].reason == "contains 'x': why"
    assert changes[-1].current is None
