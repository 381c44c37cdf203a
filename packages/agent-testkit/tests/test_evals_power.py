"""Power and sample size before a run: against a simulation of the same gate, and the sizes that
reach 80%."""

import random

import pytest

from agent_testkit.evals.calibration import pass_chances, run_once
from agent_testkit.evals.family import regressions
from agent_testkit.evals.power import (
    detectable_drop,
    difference_se,
    measured_attempt_variance,
    mix_attempt_variance,
    plan_slice,
    power_to_catch,
)
from agent_testkit.evals.significance import holm, t_sf, t_upper_quantile


@pytest.mark.parametrize(
    ("t", "df", "tail"),
    [(2.0, 10, 0.036694), (3.0, 7, 0.009971), (1.96, 10**6, 0.025), (12.7062, 1, 0.025)],
)
def test_the_t_tail_matches_the_tables(t, df, tail):
    assert t_sf(t, df) == pytest.approx(tail, abs=2e-6)
    assert t_upper_quantile(tail, df) == pytest.approx(t, abs=1e-3)


def test_holm_adjusts_step_down_and_keeps_the_order():
    assert holm({"a": 0.01, "b": 0.04, "c": 0.03}) == pytest.approx(
        {"a": 0.03, "c": 0.06, "b": 0.06}
    )


def test_the_predicted_power_matches_a_simulation_of_the_gate():
    """42 cases x 5 epochs, a true 8-point drop, alone (a family of one): predicted vs seen."""
    variance = mix_attempt_variance()
    # the true mean drop is 7.7: the 10% of cases at p = 0.05 can only drop 5
    predicted = power_to_catch(7.7, difference_se(42, 5, variance), 42, max_drop=2.0)
    rng, caught = random.Random(5), 0
    for _ in range(400):
        chances = pass_chances(rng, 42)
        pair = (run_once(rng, chances, 5, 0.0), run_once(rng, chances, 5, 8.0))
        caught += regressions({"s": pair}, max_drop=2.0)["s"].regressed
    assert caught / 400 == pytest.approx(predicted, abs=0.12)


def test_a_plan_says_what_reaches_80_percent():
    variance = mix_attempt_variance()
    plan = plan_slice("runs", 8, 5, drop=3.0, attempt_variance=variance, max_drop=2.0)
    assert plan.power < 0.2 and plan.cases_needed is not None and plan.cases_needed > 100
    bigger = plan_slice(
        "x", plan.cases_needed, 5, drop=3.0, attempt_variance=variance, max_drop=2.0
    )
    assert bigger.power >= 0.8
    assert plan.cases_to_add == plan.cases_needed - 8
    assert detectable_drop(0.0, 8, max_drop=2.0) == 2.0


def test_the_noise_is_measured_from_epochs_when_there_are_any():
    assert measured_attempt_variance([[100.0], [0.0]]) is None
    assert measured_attempt_variance([[100.0, 0.0], [100.0, 100.0]]) == pytest.approx(2500.0)
