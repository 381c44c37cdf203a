"""The gate's own error rates, simulated on the golden set's layout (ten slices of 8 to 42 cases,
209 cases, eleven comparisons at once) with the gate's own decision function: with no true
change it fails at most alpha + 1.5 points of the time, at 1 and 5 epochs, and it catches a real
5-point drop of the overall score at least 90% of the time with 5 epochs. Seeded, so the answer
is always the same; `python -m agent_testkit.evals.calibration` prints the longer figures."""

from agent_testkit.evals.calibration import GOLDEN_LAYOUT, measure_family, slice_members
from agent_testkit.evals.family import regressions
from agent_testkit.evals.significance import DEFAULT_ALPHA

ALLOWED = DEFAULT_ALPHA + 0.015


def test_the_simulated_layout_is_the_golden_sets():
    members = slice_members(GOLDEN_LAYOUT)
    assert len(members) == 10 and sorted(len(r) for r in members.values())[0] == 8
    assert max(r.stop for r in members.values()) == 209


def test_no_true_change_fails_the_gate_at_most_alpha_plus_1_5_points_with_one_epoch():
    found = measure_family(epochs=1, repetitions=1000, seed=101)
    assert found.repetitions == 1000
    assert found.rate <= ALLOWED, f"false alarms in {found.rate:.1%} of runs"


def test_no_true_change_fails_the_gate_at_most_alpha_plus_1_5_points_with_five_epochs():
    found = measure_family(epochs=5, repetitions=1000, seed=102)
    assert found.rate <= ALLOWED, f"false alarms in {found.rate:.1%} of runs"


def test_a_5_point_overall_drop_is_caught_90_percent_of_the_time_with_five_epochs():
    found = measure_family(epochs=5, drop=5.0, repetitions=1000, seed=103)
    assert found.caught_rate("overall") >= 0.90, f"caught in {found.caught_rate('overall'):.1%}"


def test_without_the_correction_the_same_runs_would_cry_wolf():
    """The reason for Holm: at alpha 0.05 per comparison (a family of one each time) the same
    clean runs fail far more often than 5%."""
    found = measure_family(epochs=5, repetitions=300, seed=104, alpha=DEFAULT_ALPHA * 11)
    assert found.rate > ALLOWED


def test_holm_lets_a_big_drop_through_and_holds_back_a_marginal_one():
    clear = ([100.0] * 20, [100.0] * 12 + [0.0] * 8)  # 40 points down, p ~ 0.001
    marginal = ([100.0] * 10, [100.0] * 8 + [0.0] * 2)  # 20 points down, p ~ 0.08
    found = regressions({"a": clear, "b": marginal}, max_drop=2.0)
    assert found["a"].regressed and not found["b"].regressed
    assert found["b"].adjusted_p >= found["b"].p_value
