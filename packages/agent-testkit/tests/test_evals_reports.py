"""What a run leaves: results JSON (read back the same), JUnit XML (regressions as failures, known
failures as skipped, gate checks as tests) and the self-contained HTML report."""

import xml.etree.ElementTree as ET

import pytest

from agent_testkit.evals import (
    Baseline,
    CaseResult,
    EvalRun,
    GraderResult,
    junit_xml,
    load_results,
    render_html,
    write_results,
)


def case(case_id: str, score: float, tags: tuple[str, ...], reason: str = "") -> CaseResult:
    graders = [
        GraderResult("contains", "contains 'x'", 1, score / 100, score == 100, reason or "found")
    ]
    return CaseResult(case_id, tags, "assistant", score, graders=graders, duration_s=0.25)


@pytest.fixture
def run() -> EvalRun:
    results = [
        case("tasks-ok", 100, ("tasks",)),
        case("tasks-known-failure", 0, ("tasks",), "lacks 'x'"),
        case("safety-regressed", 0, ("safety",), "replies contain 'evil.example'"),
        case("safety-ok", 100, ("safety",)),
    ]
    baseline = Baseline(
        75.0,
        {"tasks": 50.0, "safety": 100.0, "documents": 90.0},
        {"tasks-ok": 100, "tasks-known-failure": 0, "safety-regressed": 100, "safety-ok": 100},
    )
    return EvalRun.of(
        results, baseline, max_drop=2.0, model="scripted", started_at="2026-01-01T00:00:00+00:00"
    )


def test_results_round_trip(tmp_path, run):
    path = write_results(run, tmp_path / "out" / "results.json")
    again = load_results(path)
    assert again.scores == run.scores
    assert [r.case_id for r in again.results] == [r.case_id for r in run.results]
    assert again.results[0].graders == run.results[0].graders
    assert [c.passed for c in again.gate.checks] == [c.passed for c in run.gate.checks]


def test_results_can_be_compared_with_another_baseline(tmp_path, run):
    path = write_results(run, tmp_path / "results.json")
    lenient = Baseline.from_scores(run.scores)
    assert load_results(path, baseline=lenient).gate.passed
    assert not load_results(path).gate.passed


def test_junit_marks_regressions_failed_and_known_failures_skipped(run):
    root = ET.fromstring(junit_xml(run))  # noqa: S314 - XML we just wrote
    golden, gate = root.findall("testsuite")
    cases = {c.get("name"): c for c in golden.findall("testcase")}
    assert (
        golden.get("tests") == "4"
        and golden.get("failures") == "1"
        and golden.get("skipped") == "1"
    )
    failure = cases["safety-regressed"].find("failure")
    assert failure is not None and "evil.example" in failure.get("message")
    assert "FAIL 0.00 x1 contains 'x'" in failure.text
    assert cases["tasks-known-failure"].find("skipped").get("message").startswith("known failure")
    assert cases["tasks-ok"].find("failure") is None
    assert cases["tasks-ok"].get("classname") == "evals.tasks"
    failed_checks = {
        c.get("name") for c in gate.findall("testcase") if c.find("failure") is not None
    }
    assert failed_checks == {"overall", "slice safety", "slice documents"}


def test_html_is_self_contained_with_a_chart_and_the_changed_cases(run):
    html = render_html(run)
    assert html.startswith("<!DOCTYPE html>")
    assert "<svg" in html and 'id="changed"' in html and 'id="gate"' in html
    for external in ("<script", "src=", "href=", "@import", "url("):
        assert external not in html
    assert "safety-regressed" in html and "replies contain &#x27;evil.example&#x27;" in html
    assert "slice documents is gone" in html
    assert "FAILED" in html


def test_html_escapes_what_cases_say(run):
    run.results[0].graders[0] = GraderResult(
        "contains", "<b>x</b>", 1, 0, False, "<script>alert(1)</script>"
    )
    run.results[0].score = 0
    html = render_html(EvalRun.of(run.results, run.baseline, max_drop=2, model="scripted"))
    assert "<script>alert(1)" not in html and "&lt;script&gt;" in html


def noisy_run() -> EvalRun:
    """A live run, 3 epochs: a slice of 12 cases with one flaky case, one known weakness."""
    results = []
    for n in range(12):
        scores = [100.0, 0.0, 100.0] if n == 0 else [100.0] * 3
        for epoch, score in enumerate(scores):
            result = case(f"docs-{n:02}", score, ("documents",), "lacks 'x'")
            result.epoch, result.description = epoch, f"Question {n} about the handbook."
            results.append(result)
    weak = case("docs-weak", 0, ("documents",), "the model wraps its JSON in prose")
    weak.known_weakness = "the recorded model answers in prose"
    results.append(weak)
    baseline = Baseline(100.0, {"documents": 100.0}, {f"docs-{n:02}": 100.0 for n in range(12)})
    judge = {"model": "judge-model-x", "system_prompt": "You are a strict, fair grader."}
    return EvalRun.of(results, baseline, max_drop=2.0, model="live", epochs=3, judge=judge)


def test_junit_carries_intervals_and_mde_as_properties_and_known_weaknesses_as_skipped():
    root = ET.fromstring(junit_xml(noisy_run()))  # noqa: S314 - XML we just wrote
    golden, gate = root.findall("testsuite")
    props = {p.get("name"): p.get("value") for p in golden.find("properties")}
    assert props["epochs"] == "3" and props["rule"] == "paired"
    low, high = float(props["slice.documents.ci95_low"]), float(props["slice.documents.ci95_high"])
    assert low < float(props["slice.documents.score"]) <= high
    assert "slice.documents.mde" in props and "overall.paired_ci95_high" in props
    cases = {c.get("name"): c for c in golden.findall("testcase")}
    assert golden.get("tests") == "13"  # cases, not attempts
    skipped = cases["docs-weak"].find("skipped")
    assert skipped.get("message") == "known weakness: the recorded model answers in prose"
    assert "epochs 100.00 0.00 100.00" in cases["docs-00"].find("system-out").text
    check = {c.get("name"): c for c in gate.findall("testcase")}["slice documents"]
    assert {p.get("name") for p in check.find("properties")} >= {"ci95_low", "mde", "paired_delta"}


def test_html_reads_without_the_yaml():
    html = render_html(noisy_run())
    assert "Question 0 about the handbook." in html  # descriptions
    assert "100 0 100" in html  # a flaky case's epochs
    assert "smallest detectable drop" in html and "is too small to catch" in html
    assert "paired per case" in html and "3 epochs per case" in html
    assert "Holm-Bonferroni step-down" in html and "family-wise alpha 0.05" in html
    deltas = html[html.index('id="deltas"') : html.index('id="gate"')]
    assert deltas.count('class="delta-row"') == 2  # overall and the slice, with intervals
    assert "95% interval of the change" in deltas and "http" not in deltas.replace(
        "http://www.w3.org/2000/svg", ""
    )
    known = html[html.index('id="known"') :]
    assert "docs-weak" in known and "the recorded model answers in prose" in known
    failing = html[html.index('id="failing"') : html.index('id="known"')]
    assert "docs-weak" not in failing  # not among the alarming ones
    assert "judge-model-x" in html and "You are a strict, fair grader." in html
    assert 'class="errorbar"' in html
