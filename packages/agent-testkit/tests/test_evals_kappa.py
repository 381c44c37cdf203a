"""Cohen's kappa's interval: the Fleiss-Cohen-Everitt standard error against a bootstrap of the same
labels, an interval that holds its 95% at 200 labels, and no zero-width interval when every label
agrees."""

import random
import statistics

import pytest

from agent_testkit.evals.kappa import cohen_kappa, kappa_interval, kappa_standard_error

# 50 items: both pass 20, judge pass / person fail 5, judge fail / person pass 10, both fail 15
TEXTBOOK = [(True, True)] * 20 + [(True, False)] * 5 + [(False, True)] * 10 + [(False, False)] * 15


def test_the_standard_error_agrees_with_a_bootstrap_of_the_labels():
    rng = random.Random(5)
    resampled = [cohen_kappa(rng.choices(TEXTBOOK, k=len(TEXTBOOK))) for _ in range(3000)]
    bootstrap_se = statistics.stdev(k for k in resampled if k is not None)
    assert cohen_kappa(TEXTBOOK) == pytest.approx(0.4)
    assert kappa_standard_error(TEXTBOOK) == pytest.approx(bootstrap_se, rel=0.08)
    interval = kappa_interval(TEXTBOOK)
    assert interval is not None
    assert interval.low == pytest.approx(0.4 - 1.96 * 0.12700, abs=1e-3)
    assert interval.high == pytest.approx(0.4 + 1.96 * 0.12700, abs=1e-3)


def test_the_interval_covers_the_true_kappa_at_200_labels():
    """A judge agreeing with people 90% of the time, base rate 50%: true kappa 0.8."""
    rng = random.Random(11)
    cells = [(True, True)] * 45 + [(True, False)] * 5 + [(False, True)] * 5 + [(False, False)] * 45
    covered = 0
    for _ in range(1000):
        interval = kappa_interval(rng.choices(cells, k=200))
        covered += interval is not None and interval.low <= 0.8 <= interval.high
    assert covered / 1000 >= 0.92, f"covered {covered / 1000:.1%}"


def test_perfect_agreement_on_a_finite_sample_still_has_a_lower_bound():
    interval = kappa_interval([(True, True)] * 20 + [(False, False)] * 20)
    assert interval is not None and interval.high == 1.0
    assert 0.7 < interval.low < 1.0  # 40 labels cannot prove a perfect judge


def test_kappa_is_undefined_when_both_always_said_the_same_thing():
    assert kappa_interval([(True, True)] * 5) is None
    assert kappa_interval([]) is None
