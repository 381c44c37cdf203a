"""The paired gate's decision for a whole family of comparisons (the overall score and each slice).

A comparison regresses when both hold:

- its drop is significant with the family-wise error rate held at `alpha` (one-sided paired
  t-test per comparison, Holm's step-down over all of them: `significance`), and
- its mean drop is over `max_drop` points (a real but tiny drop is not worth a red build).

`regressions` is the decision alone, fast enough for the calibration to call it thousands of
times; `compare` in `gate` adds each comparison's interval and detectable drop for the report.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from agent_testkit.evals.significance import DEFAULT_ALPHA, holm, t_sf

Pair = tuple[Sequence[float], Sequence[float]]  # (before, now): per-case scores, same order


@dataclass(frozen=True)
class Decision:
    """One comparison's test: the mean change, its standard error, the p-values, the verdict."""

    cases: int
    mean: float  # now - before, in points
    se: float
    p_value: float  # one-sided, "no drop"
    adjusted_p: float  # Holm-adjusted over the family
    regressed: bool


def _mean_and_se(diffs: Sequence[float]) -> tuple[float, float]:
    n = len(diffs)
    mean = math.fsum(diffs) / n
    if n < 2:
        return mean, 0.0
    variance = math.fsum((d - mean) ** 2 for d in diffs) / (n - 1)
    return mean, math.sqrt(variance / n)


def _p_value(n: int, mean: float, se: float) -> float:
    """The paired t-test's one-sided p-value of "no drop"; differences all alike are certain."""
    if n < 2:
        return 1.0
    if se <= 1e-9:
        return 0.0 if mean < 0 else 1.0
    return t_sf(-mean / se, n - 1)


def regressions(
    pairs: Mapping[str, Pair], *, max_drop: float, alpha: float = DEFAULT_ALPHA
) -> dict[str, Decision]:
    """Each comparison's decision, Holm over all of `pairs` (each with at least two cases)."""
    found: dict[str, tuple[int, float, float, float]] = {}
    for name, (before, now) in pairs.items():
        if len(before) != len(now):
            raise ValueError(f"{name}: a paired comparison needs one score per case on both sides")
        mean, se = _mean_and_se([b - a for a, b in zip(before, now, strict=True)])
        found[name] = (len(before), mean, se, _p_value(len(before), mean, se))
    adjusted = holm({name: row[3] for name, row in found.items()}, alpha)
    return {
        name: Decision(
            n,
            mean,
            se,
            p,
            adjusted[name],
            adjusted[name] <= alpha and round(-mean, 2) > max_drop,
        )
        for name, (n, mean, se, p) in found.items()
    }
