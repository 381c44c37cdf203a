"""Scores per case, per slice and overall, and the gate against a baseline: a 3-point drop in one
slice (everything else unchanged) fails it, a 1-point drop passes, a vanished slice fails."""

import json

import pytest

from agent_testkit.evals import (
    Baseline,
    CaseResult,
    Check,
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


BASELINE_FILE = """{
  "version": 2,
  "model": "scripted",
  "overall": 80.0,
  "slices": {
    "errors": 70.0,
    "safety": 75.0,
    "tasks": 75.0
  },
  "cases": {
    "a": 100.0,
    "b": 50.0,
    "c": 100.0,
    "d": 70.0
  }
}
"""


def test_a_committed_baseline_file_is_rewritten_byte_for_byte(tmp_path):
    """Accepting an unchanged run changes nothing in the file a project commits."""
    (tmp_path / "committed.json").write_text(BASELINE_FILE)
    Baseline.load(tmp_path / "committed.json").save(tmp_path / "var" / "evals" / "baseline.json")
    assert (tmp_path / "var" / "evals" / "baseline.json").read_text() == BASELINE_FILE
    Baseline.from_scores(aggregate(RESULTS)).save(tmp_path / "committed.json")
    assert (tmp_path / "committed.json").read_text() == BASELINE_FILE


def test_a_baseline_keeps_epochs_from_two_on():
    two = [
        CaseResult("a", ("tasks",), "assistant", 100, epoch=0),
        CaseResult("a", ("tasks",), "assistant", 50, epoch=1),
    ]
    assert Baseline.from_scores(aggregate(two)).epochs == {"a": [100.0, 50.0]}
    assert "epochs" in Baseline.from_scores(aggregate(two)).to_json()
    assert Baseline.from_scores(aggregate(two[:1])).epochs == {}


def test_a_drop_shown_as_max_drop_passes():
    """Scores compare to the hundredth, as the reasons show them: 2.004 points is 2.00."""
    report = compare(aggregate(RESULTS), baseline_with(tasks=77.004), max_drop=2.0)
    assert report.passed
    [check] = [c for c in report.checks if c.name == "slice tasks"]
    assert check.delta == -2.0 and check.reason == "slice tasks 75.00 (baseline 77.00)"


def test_a_deterministic_run_has_no_mde_and_no_warnings():
    """Under the exact rule every drop is real: there is no noise to be underpowered against."""
    report = compare(aggregate(RESULTS), baseline_with(tasks=75.5))
    assert all(c.mde is None and c.warning == "" for c in report.checks)
    assert report.warnings == []


def test_a_gone_slice_says_which_rule_failed_it():
    scores = aggregate(RESULTS)
    baseline = Baseline(scores.overall, {**scores.slices, "documents": 90.0}, scores.cases)
    report = compare(scores, baseline, max_drop=5.0, exact=False)
    [gone] = report.failures
    assert gone.to_json() == {
        "name": "slice documents",
        "baseline": 90.0,
        "current": None,
        "delta": None,
        "passed": False,
        "reason": "slice documents is gone (it scored 90.00)",
        "rule": "paired",
        "cases": 0,
        "interval": None,
        "paired": None,
        "p_value": None,
        "adjusted_p": None,
        "mde": None,
        "cases_needed": None,
        "warning": "",
    }
    assert gone.max_drop == 5.0


def epochs_of(scores: dict[str, list[float]]) -> list[CaseResult]:
    return [
        CaseResult(case_id, ("s",), "assistant", score, epoch=n)
        for case_id, epoch_scores in scores.items()
        for n, score in enumerate(epoch_scores)
    ]


def test_the_paired_rule_lets_a_drop_of_exactly_max_drop_pass():
    """Every case 2 points down: certainly a drop (no spread), but not over the 2 allowed."""
    before = {f"c{n}": 50.0 + n for n in range(10)}
    now = aggregate(epochs_of({c: [s - 2.0] for c, s in before.items()}))
    report = compare(now, Baseline(54.5, {"s": 54.5}, before), max_drop=2.0, exact=False)
    assert report.passed
    check = report.checks[1]
    assert check.paired.mean == -2.0 and check.p_value == 0.0  # certainly a drop
    assert "within the noise" not in check.reason
    assert check.reason.startswith("slice s 52.50 (baseline 54.50; paired over 10 cases")


def test_two_shared_cases_are_enough_to_pair():
    now = aggregate(epochs_of({"a": [40.0], "b": [60.0]}))
    report = compare(now, Baseline(50.0, {"s": 50.0}, {"a": 50.0, "b": 50.0}), exact=False)
    assert report.checks[1].paired is not None and report.checks[1].paired.n == 2


def test_a_measured_spread_gives_the_mde_of_this_very_comparison():
    before = {f"c{n:02}": 100.0 for n in range(100)}
    now = aggregate(epochs_of({c: [80.0 if c == "c00" else 100.0] for c in before}))
    report = compare(now, Baseline(100.0, {"s": 100.0}, before), exact=False)
    check = report.checks[1]
    assert 0 < check.paired.se < 1
    assert check.mde == check.paired.mde > 0


def test_no_measured_spread_keeps_the_mde_the_epochs_predict():
    """Each case's mean moved by the same 2 points, but its epochs scatter: the slice is as noisy
    as its epochs say, and far too small to see a 2-point drop."""
    before = {f"c{n}": 52.0 for n in range(10)}
    now = aggregate(epochs_of({c: [100.0, 0.0] for c in before}))
    check = compare(now, Baseline(52.0, {"s": 52.0}, before), exact=False).checks[1]
    assert check.paired.se == 0
    assert check.mde > 2 and check.underpowered
    assert check.warning == (
        f"slice s is too small to catch a 5-point drop: it catches drops of {check.mde:.1f} "
        f"points or more (10 cases); add about {check.cases_needed - 10} more cases"
    )


def test_only_an_mde_over_the_drop_to_detect_warns():
    base = {"name": "slice s", "baseline": 50.0, "current": 50.0, "passed": True, "reason": ""}
    assert Check(**base, mde=5.0).warning == ""
    assert not Check(**base, mde=5.0).underpowered
    assert Check(**base, mde=5.01).underpowered
    assert "add more cases or epochs" in Check(**base, mde=5.01).warning
    assert Check(**base, mde=3.0, detect=2.5).underpowered


def test_a_new_case_sorts_as_no_change_between_drops_and_gains():
    baseline = Baseline(0, {}, {"down": 50.0, "up": 50.0})
    now = [result("down", 49.5, "tasks"), result("new", 100, "tasks"), result("up", 50.5, "tasks")]
    assert [c.case_id for c in changed_cases(now, baseline)] == ["down", "new", "up"]
