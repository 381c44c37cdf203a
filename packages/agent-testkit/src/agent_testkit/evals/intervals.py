"""Intervals that hold their 95% on small slices, and never have zero width.

A percentile bootstrap of 8 case scores covers the true score 80-83% of the time, and when all 8
cases pass it is the single point 100, "no uncertainty" from eight draws. Scores here are graded
in [0, 100]; read as fractions of a pass, a slice's score is a proportion, and proportions have an
interval that works at small n, Wilson's score interval (which is never of zero width: all 8 of 8
passing gives [67.6, 100]).

Cases are clusters: a case's epochs are not independent draws (an easy case passes all of them),
so the number of draws is the number of cases, each one's score its fraction of a pass. That is
valid for any grading, not only pass/fail: a score in [0, 1] varies at most `p(1 - p)`, the
binomial's variance, so Wilson's interval over the cases is never too narrow. Epochs make each
case's score less noisy, which the bound already allows for; crediting them as extra draws
(Korn and Graubard's effective sample size) was tried and covered only 89-91% at 8 and 14 cases
with 5 epochs, its variance estimate being too noisy on a few cases.

The change between two runs of the same cases is the paired difference of two such scores; its
interval is Newcombe's square-and-add (MOVER) of the two Wilson intervals, with the correlation of
the case scores across the runs (Zou and Donner), continuity-corrected and clipped to [0, 1] as
Newcombe's method 10 does.
Both were chosen by the coverage simulation in the kit's tests (`coverage`): at 8, 14, 22, 42 and
209 cases, 1 and 5 epochs, they cover at least 93% where the bootstrap and the t interval did not.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

from agent_testkit.evals.stats import CONFIDENCE, Interval

_NORMAL = statistics.NormalDist()


def _z(confidence: float) -> float:
    return _NORMAL.inv_cdf(1 - (1 - confidence) / 2)


def wilson(p: float, n: float, *, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Wilson's score interval of a proportion `p` observed over `n` (possibly effective) draws."""
    z = _z(confidence)
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z / denominator * math.sqrt(max(0.0, p * (1 - p) / n + z * z / (4 * n * n)))
    return max(0.0, centre - half), min(1.0, centre + half)


def score_interval(case_scores: Sequence[float], *, confidence: float = CONFIDENCE) -> Interval:
    """The interval of a slice's score (the mean of its case scores, in points)."""
    if not case_scores:
        return Interval(0.0, 0.0)
    fractions = [min(1.0, max(0.0, s / 100)) for s in case_scores]
    low, high = wilson(statistics.fmean(fractions), len(fractions), confidence=confidence)
    return Interval(100 * low, 100 * high)


def _correlation(before: Sequence[float], now: Sequence[float]) -> float:
    """The correlation of the case scores across the runs, with Newcombe's continuity correction
    of his phi (`(ad - bc - n/2) / sqrt(margins)`, read for scores in [0, 1]): without it, two
    identical runs of a slice at 50% would get a change interval of zero width."""
    if len(before) < 2 or min(before) == max(before) or min(now) == max(now):
        return 0.0
    spread = statistics.pstdev(before) * statistics.pstdev(now) / 10_000
    corrected = statistics.correlation(before, now) - 1 / (2 * len(before) * spread)
    return min(1.0, max(0.0, corrected))


def paired_interval(
    before: Sequence[float],
    now: Sequence[float],
    *,
    confidence: float = CONFIDENCE,
) -> Interval:
    """The interval of `mean(now) - mean(before)` over the same cases (position i is case i in
    both), in points: Newcombe's MOVER with the runs' correlation."""
    if len(before) != len(now):
        raise ValueError("a paired comparison needs one score per case on both sides")
    if not before:
        return Interval(0.0, 0.0)
    first = score_interval(before, confidence=confidence)
    second = score_interval(now, confidence=confidence)
    p1, p2 = statistics.fmean(before), statistics.fmean(now)
    r = _correlation(before, now)
    below = _square_and_add(p2 - second.low, first.high - p1, r)
    above = _square_and_add(second.high - p2, p1 - first.low, r)
    return Interval(p2 - p1 - below, p2 - p1 + above)


def _square_and_add(one: float, other: float, r: float) -> float:
    return math.sqrt(max(0.0, one * one + other * other - 2 * r * one * other))
