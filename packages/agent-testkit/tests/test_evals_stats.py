"""The statistics of the gate against known answers: t quantiles from the tables, intervals that
keep a case's epochs together, and the paired gate on synthetic runs whose true drop is known.
The family-wise false-alarm rate and power on the golden layout are in test_evals_calibration,
the intervals' coverage in test_evals_coverage."""

import random
import statistics

import pytest

from agent_testkit.evals import (
    Baseline,
    CaseResult,
    EvalRun,
    aggregate,
    bootstrap_interval,
    compare,
    minimum_detectable_effect,
    paired_difference,
    unpaired_difference,
)
from agent_testkit.evals.calibration import pass_chances, run_once
from agent_testkit.evals.intervals import score_interval
from agent_testkit.evals.stats import expected_paired_se, t_quantile


@pytest.mark.parametrize(
    ("p", "df", "table"),
    [
        (0.975, 1, 12.706),
        (0.975, 2, 4.303),
        (0.975, 5, 2.571),
        (0.975, 10, 2.228),
        (0.975, 30, 2.042),
        (0.975, 1000, 1.962),
        (0.80, 10, 0.879),
        (0.80, 99, 0.845),
    ],
)
def test_t_quantiles_match_the_tables(p, df, table):
    assert t_quantile(p, df) == pytest.approx(table, abs=0.005)


def test_the_bootstrap_is_seeded_and_brackets_the_mean():
    values = [100.0] * 30 + [0.0] * 10 + [50.0] * 10
    first = bootstrap_interval(values, seed="s")
    assert first == bootstrap_interval(values, seed="s")
    assert first.low < statistics.fmean(values) < first.high
    # about mean +- 1.96 SE for a sample this size
    se = statistics.stdev(values) / len(values) ** 0.5
    assert first.width() == pytest.approx(2 * 1.96 * se, rel=0.15)
    assert bootstrap_interval([70.0] * 12).width() == 0  # no spread, no interval


def test_epochs_of_a_case_stay_together_in_the_interval():
    """Five epochs of a case are one observation (their mean), not five: the interval of a run
    with epochs is the interval of its case means."""
    rng = random.Random(7)
    results = [
        CaseResult(f"c{n:02}", ("s",), "a", 100.0 * (rng.random() < 0.6), epoch=e)
        for n in range(40)
        for e in range(5)
    ]
    scores = aggregate(results, seed=3)
    means = list(scores.cases.values())
    assert len(means) == 40 and scores.epochs["c00"] == [r.score for r in results[:5]]
    expected = score_interval(means)
    assert scores.slice_intervals["s"].low == round(expected.low, 2)
    assert scores.slice_intervals["s"].high == round(expected.high, 2)


def test_the_paired_interval_is_narrower_than_the_unpaired_one_on_the_same_data():
    rng = random.Random(5)
    chances = pass_chances(rng, 100)
    before = run_once(rng, chances, 5, 0.0)
    now = run_once(rng, chances, 5, 3.0)
    paired, unpaired = paired_difference(before, now), unpaired_difference(before, now)
    assert paired.mean == pytest.approx(unpaired.mean)  # the same estimate of the change
    assert paired.interval.width() < unpaired.interval.width() / 2  # much more precise
    assert paired.mde < unpaired.mde


def test_mde_and_expected_se_from_epochs():
    assert minimum_detectable_effect(1.0, 100) == pytest.approx(1.984 + 0.845, abs=0.01)
    assert minimum_detectable_effect(0.0, 100) == 0
    # one case flips between 0 and 100, the rest are stable
    epochs = [[0.0, 100.0, 0.0, 100.0]] + [[100.0] * 4] * 9
    per_case = statistics.variance([0.0, 100.0, 0.0, 100.0]) / 4
    assert expected_paired_se(epochs) == pytest.approx((2 * per_case / 10**2) ** 0.5)
    assert expected_paired_se([[100.0]] * 10) == 0  # one epoch: the noise is unknown


def synthetic(drop: float, seed: int, *, cases: int = 100, epochs: int = 5) -> list[CaseResult]:
    rng = random.Random(seed)
    chances = pass_chances(random.Random(99), cases)  # the same cases in every run
    scores = [max(0.0, p - drop / 100) for p in chances]
    return [
        CaseResult(
            f"case-{n:03}", ("big",) if n < 80 else ("big", "tiny"), "a", 100.0 * hit, epoch=e
        )
        for n, p in enumerate(scores)
        for e, hit in enumerate(rng.random() < p for _ in range(epochs))
    ]


def test_the_paired_gate_fails_a_real_drop_and_passes_noise_with_a_warning_on_a_tiny_slice():
    baseline = Baseline.from_scores(aggregate(synthetic(0, seed=1)), model="live")
    assert len(baseline.epochs["case-000"]) == 5  # every epoch kept in the baseline
    same = EvalRun.of(synthetic(0, seed=2), baseline, max_drop=2.0, model="live", epochs=5)
    assert same.gate.passed and same.gate.rule == "paired"
    worse = EvalRun.of(synthetic(8, seed=3), baseline, max_drop=2.0, model="live", epochs=5)
    checks = {c.name: c for c in worse.gate.checks}
    assert not checks["slice big"].passed and checks["slice big"].paired.interval.high < 0
    assert "paired over 100 cases" in checks["slice big"].reason
    tiny = checks["slice tiny"]  # 20 cases: cannot tell 5 points from noise
    assert tiny.mde > 5 and "is too small to catch a 5-point drop" in tiny.warning
    assert tiny.warning in worse.gate.warnings
    assert checks["overall"].interval is not None and checks["overall"].interval.width() > 0


def test_a_drop_over_the_threshold_inside_the_noise_passes_the_paired_gate_not_the_exact_one():
    """20 cases: three that passed now fail, two that failed now pass. 5 points down, but case
    by case that is as likely to be chance as not."""
    before = [CaseResult(f"c{n:02}", ("s",), "a", 100.0 if n < 12 else 0.0) for n in range(20)]
    flipped = {"c00": 0.0, "c01": 0.0, "c02": 0.0, "c18": 100.0, "c19": 100.0}
    after = [CaseResult(r.case_id, r.tags, "a", flipped.get(r.case_id, r.score)) for r in before]
    baseline = Baseline.from_scores(aggregate(before))
    assert baseline.slices["s"] - aggregate(after).slices["s"] == 5.0
    paired = compare(aggregate(after), baseline, exact=False)
    assert paired.passed
    check = paired.checks[1]
    assert check.paired.interval.low < 0 < check.paired.interval.high
    assert "within the noise" in check.reason
    assert not compare(aggregate(after), baseline, exact=True).passed  # the exact rule fails it
