"""Error bars for evals, after Miller, "Adding Error Bars to Evals" (arXiv 2411.00640).

The unit of sampling is the case, not the attempt: a case run for several epochs gives one
observation, the mean of its epochs (which is what makes the standard error "clustered": the epochs
of a case are never treated as independent draws). On top of that:

- a score's 95% interval is a percentile bootstrap over cases, seeded, so a report is reproducible;
- two runs of the same cases are compared per case: the paired difference `d_i = now_i - before_i`
  has standard error `sd(d) / sqrt(n)`, which removes the variation between cases (some are easy,
  some hard) that an unpaired comparison of two means carries twice;
- the minimum detectable effect (MDE) is the smallest true drop the paired test finds with 80%
  probability at this size and noise: `(t_{0.975} + t_{0.80}) * SE`. A slice whose MDE is over the
  gate's threshold is too small (or too noisy) for the gate to mean much.

Pure standard library (`random`, `statistics`, `math`): no numpy needed for a few hundred cases.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

CONFIDENCE = 0.95
POWER = 0.80
BOOTSTRAP_RESAMPLES = 2000
_NORMAL = statistics.NormalDist()


@dataclass(frozen=True)
class Interval:
    """A two-sided interval, in points."""

    low: float
    high: float

    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0

    def width(self) -> float:
        return self.high - self.low

    def to_json(self) -> list[float]:
        return [round(self.low, 2), round(self.high, 2)]


def t_quantile(p: float, df: int) -> float:
    """Student's t quantile: exact for 1 and 2 degrees of freedom, a Cornish-Fisher expansion
    (error < 0.01 from 3 on) above, the normal quantile for very large samples."""
    if df < 1:
        raise ValueError("a t quantile needs at least 1 degree of freedom")
    if df == 1:
        return math.tan(math.pi * (p - 0.5))
    if df == 2:
        return (2 * p - 1) / math.sqrt(2 * p * (1 - p))
    z = _NORMAL.inv_cdf(p)
    g1 = (z**3 + z) / 4
    g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96
    g3 = (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384
    g4 = (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / 92160
    return z + g1 / df + g2 / df**2 + g3 / df**3 + g4 / df**4


def standard_error(values: Sequence[float]) -> float:
    """The standard error of the mean of `values` (one per case: a clustered SE)."""
    if len(values) < 2:
        return 0.0
    return statistics.stdev(values) / math.sqrt(len(values))


def bootstrap_interval(
    values: Sequence[float],
    *,
    seed: int | str = 0,
    resamples: int = BOOTSTRAP_RESAMPLES,
    confidence: float = CONFIDENCE,
) -> Interval:
    """The percentile bootstrap interval of the mean of `values` (one value per case, so a case's
    epochs stay together). Seeded: the same values and seed give the same interval."""
    if not values:
        return Interval(0.0, 0.0)
    if min(values) == max(values):
        return Interval(float(values[0]), float(values[0]))
    rng = random.Random(seed)  # noqa: S311 - statistics, not secrets
    n = len(values)
    means = sorted(sum(rng.choices(values, k=n)) / n for _ in range(resamples))
    tail = (1 - confidence) / 2
    low = means[math.floor(tail * (resamples - 1))]
    high = means[math.ceil((1 - tail) * (resamples - 1))]
    return Interval(low, high)


def minimum_detectable_effect(
    se: float, n: int, *, confidence: float = CONFIDENCE, power: float = POWER
) -> float:
    """The smallest true difference a two-sided test at `confidence` finds with probability
    `power`, given the standard error of the difference and the number of cases."""
    if n < 2 or se == 0:
        return 0.0
    df = n - 1
    return (t_quantile(1 - (1 - confidence) / 2, df) + t_quantile(power, df)) * se


@dataclass(frozen=True)
class Difference:
    """`now - before` over `n` cases: its mean, standard error, interval and the MDE."""

    n: int
    mean: float
    se: float
    interval: Interval
    mde: float

    def to_json(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "mean": round(self.mean, 2),
            "se": round(self.se, 3),
            "interval": self.interval.to_json(),
            "mde": round(self.mde, 2),
        }


def _difference(n: int, mean: float, se: float, df: int, confidence: float) -> Difference:
    if n == 0:
        return Difference(0, 0.0, 0.0, Interval(0.0, 0.0), 0.0)
    half = t_quantile(1 - (1 - confidence) / 2, max(1, df)) * se if se else 0.0
    return Difference(
        n, mean, se, Interval(mean - half, mean + half), minimum_detectable_effect(se, n)
    )


def paired_difference(
    before: Sequence[float], now: Sequence[float], *, confidence: float = CONFIDENCE
) -> Difference:
    """The paired comparison of the same cases (position i is case i in both): the mean of the
    per-case differences, with a t interval on their standard error."""
    if len(before) != len(now):
        raise ValueError("a paired comparison needs one score per case on both sides")
    diffs = [b - a for a, b in zip(before, now, strict=True)]
    n = len(diffs)
    mean = statistics.fmean(diffs) if diffs else 0.0
    return _difference(n, mean, standard_error(diffs), n - 1, confidence)


def unpaired_difference(
    before: Sequence[float], now: Sequence[float], *, confidence: float = CONFIDENCE
) -> Difference:
    """The same comparison ignoring that the cases are the same (two independent means, Welch's
    standard error): what a tool that does not pair would report. For comparison only."""
    if not before or not now:
        return _difference(0, 0.0, 0.0, 1, confidence)
    se = math.hypot(standard_error(before), standard_error(now))
    mean = statistics.fmean(now) - statistics.fmean(before)
    return _difference(min(len(before), len(now)), mean, se, len(before) + len(now) - 2, confidence)


def expected_paired_se(epoch_scores: Sequence[Sequence[float]]) -> float:
    """The standard error a paired comparison of two runs of the same model would have, estimated
    from one run's epochs: each case mean varies by `s_i^2 / k_i` between runs, a difference of two
    runs twice that. Cases with one epoch contribute nothing (their noise is unknown), so with one
    epoch per case this is 0: run `--epochs` to learn it."""
    per_case = [
        statistics.variance(scores) / len(scores) for scores in epoch_scores if len(scores) > 1
    ]
    n = len(epoch_scores)
    if not per_case or n < 2:
        return 0.0
    return math.sqrt(2 * statistics.fmean(per_case) / n)
