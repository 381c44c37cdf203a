"""How big a drop the gate can catch, before a run: power and sample size per slice.

A slice fails when its drop is significant under the family's correction *and* over the gate's
threshold, so with per-case differences of standard error `se` it catches a true drop `delta` with
probability about `Phi((delta - max(max_drop, t * se)) / se)`, `t` the one-sided critical value at
Holm's strictest level `alpha / m` (m comparisons: the slices and the overall score). Planning
takes that strictest level, so the figures are what the gate at least achieves.

Where the noise comes from: a baseline run with epochs measures it per case (each case's spread
over its epochs); without one, the noise model of `calibration` (pass/fail attempts, 10% stable
failures, 20% flaky cases, 70% stable passes) stands in, and the plan says so.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from agent_testkit.evals.calibration import DEFAULT_FLAKY, FAIL_P, FLAKY_P, PASS_P, STABLE_FAIL
from agent_testkit.evals.significance import DEFAULT_ALPHA, t_upper_quantile

TARGET_POWER = 0.80
MAX_EPOCHS, MAX_CASES = 100, 100_000
_NORMAL = statistics.NormalDist()


def mix_attempt_variance(flaky: float = DEFAULT_FLAKY) -> float:
    """The mean variance of one pass/fail attempt (in points squared) under the noise model."""
    low, high = FLAKY_P
    flaky_mean = (low + high) / 2
    flaky_square = (high - low) ** 2 / 12 + flaky_mean**2
    stable = 1 - STABLE_FAIL - flaky
    per_attempt = (
        STABLE_FAIL * FAIL_P * (1 - FAIL_P)
        + flaky * (flaky_mean - flaky_square)
        + stable * PASS_P * (1 - PASS_P)
    )
    return 10_000 * per_attempt


def difference_se(cases: int, epochs: int, attempt_variance: float) -> float:
    """The standard error of a slice's mean paired difference: each case's mean over `epochs`
    attempts varies by `variance / epochs`, a difference of two runs twice that."""
    return math.sqrt(2 * attempt_variance / epochs / max(1, cases))


def detectable_drop(
    se: float,
    cases: int,
    *,
    max_drop: float,
    alpha: float = DEFAULT_ALPHA,
    comparisons: int = 1,
    power: float = TARGET_POWER,
) -> float:
    """The smallest true drop the gate catches with probability `power` (the MDE)."""
    if cases < 2 or se <= 0:
        return max_drop
    critical = t_upper_quantile(alpha / max(1, comparisons), cases - 1) * se
    return max(max_drop, critical) + _NORMAL.inv_cdf(power) * se


def power_to_catch(
    drop: float,
    se: float,
    cases: int,
    *,
    max_drop: float,
    alpha: float = DEFAULT_ALPHA,
    comparisons: int = 1,
) -> float:
    """The probability the gate fails a slice whose true drop is `drop` points."""
    if cases < 2:
        return 0.0
    if se <= 0:
        return 1.0 if drop > max_drop else 0.0
    critical = t_upper_quantile(alpha / max(1, comparisons), cases - 1) * se
    return _NORMAL.cdf((drop - max(max_drop, critical)) / se)


@dataclass(frozen=True)
class SlicePlan:
    """One slice's power at its size and epochs, and what it takes to reach 80%."""

    name: str
    cases: int
    epochs: int
    se: float
    power: float
    detectable: float  # the drop caught with 80% probability
    epochs_needed: int | None  # None: no number of epochs up to MAX_EPOCHS reaches 80%
    cases_needed: int | None

    @property
    def cases_to_add(self) -> int:
        return max(0, (self.cases_needed or self.cases) - self.cases)


def plan_slice(
    name: str,
    cases: int,
    epochs: int,
    *,
    drop: float,
    attempt_variance: float,
    max_drop: float,
    alpha: float = DEFAULT_ALPHA,
    comparisons: int = 1,
) -> SlicePlan:
    """Power for a drop of `drop` points on a slice of `cases` cases run `epochs` times each."""

    def power(n: int, k: int) -> float:
        se = difference_se(n, k, attempt_variance)
        return power_to_catch(drop, se, n, max_drop=max_drop, alpha=alpha, comparisons=comparisons)

    se = difference_se(cases, epochs, attempt_variance)
    return SlicePlan(
        name,
        cases,
        epochs,
        se,
        power(cases, epochs),
        detectable_drop(se, cases, max_drop=max_drop, alpha=alpha, comparisons=comparisons),
        _smallest(lambda k: power(cases, k) >= TARGET_POWER, 1, MAX_EPOCHS),
        _smallest(lambda n: power(n, epochs) >= TARGET_POWER, 2, MAX_CASES),
    )


def _smallest(enough: Callable[[int], bool], low: int, high: int) -> int | None:
    """The smallest integer in [low, high] for which `enough` holds (it is monotone), or None."""
    if not enough(high):
        return None
    while low < high:
        middle = (low + high) // 2
        if enough(middle):
            high = middle
        else:
            low = middle + 1
    return low


def measured_attempt_variance(epoch_scores: Sequence[Sequence[float]]) -> float | None:
    """The mean variance of one attempt, measured from a run's epochs (None: fewer than two)."""
    spreads = [statistics.variance(s) for s in epoch_scores if len(s) > 1]
    return statistics.fmean(spreads) if spreads else None
