"""Whether a drop is real, for a family of comparisons at once.

The gate compares the overall score and every slice: eleven tests on the golden set. Each tested
at 5% fails a clean change somewhere 10-19% of the time, so the gate would cry wolf one CI run in
six. Here each comparison gets a one-sided p-value (the paired t-test on the per-case differences,
a case's epochs averaged first, so they stay one cluster), and Holm's step-down rule decides which
of them are significant with the family-wise error rate held at `alpha`: sorted by p-value, the
k-th smallest is compared with `alpha / (m - k + 1)` and the first one over stops the walk.
Holm is uniformly more powerful than Bonferroni and needs no assumption about how the tests
depend on each other (the overall score shares its cases with every slice).

Pure standard library: the t distribution's tail from the regularized incomplete beta function.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

DEFAULT_ALPHA = 0.05
HOLM = "holm"
RULE_TEXT = "Holm-Bonferroni step-down over the slices and the overall score"
_EPS, _TINY, _STEPS = 3e-16, 1e-300, 300


def _beta_fraction(a: float, b: float, x: float) -> float:
    """The continued fraction of the incomplete beta function (modified Lentz)."""
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > _TINY else _TINY)
    h = d
    for m in range(1, _STEPS):
        for numerator in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > _TINY else _TINY)
            c = 1.0 + numerator / c
            c = c if abs(c) > _TINY else _TINY
            h *= d * c
        if abs(d * c - 1.0) < _EPS:
            break
    return h


def regularized_beta(a: float, b: float, x: float) -> float:
    """I_x(a, b), the regularized incomplete beta function, for 0 <= x <= 1."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    log_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    if x < (a + 1) / (a + b + 2):
        return math.exp(log_front) * _beta_fraction(a, b, x) / a
    return 1.0 - math.exp(log_front) * _beta_fraction(b, a, 1 - x) / b


def t_sf(t: float, df: float) -> float:
    """P(T > t) for Student's t with `df` degrees of freedom."""
    tail = 0.5 * regularized_beta(df / 2, 0.5, df / (df + t * t))
    return tail if t > 0 else 1.0 - tail


def holm(p_values: Mapping[str, float], alpha: float = DEFAULT_ALPHA) -> dict[str, float]:
    """Holm-adjusted p-values: a comparison is significant at family-wise level `alpha` exactly
    when its adjusted p-value is at most `alpha`."""
    ordered = sorted(p_values.items(), key=lambda item: (item[1], item[0]))
    m, running, adjusted = len(ordered), 0.0, {}
    for rank, (name, p) in enumerate(ordered):
        running = max(running, min(1.0, (m - rank) * p))
        adjusted[name] = running
    return adjusted


def t_upper_quantile(tail: float, df: float) -> float:
    """The t with `P(T > t) = tail` (bisection on `t_sf`: exact where a series is not, far out in
    the tail, as Holm's smallest levels are)."""
    low, high = -1e3, 1e3
    for _ in range(80):
        middle = (low + high) / 2
        if t_sf(middle, df) > tail:
            low = middle
        else:
            high = middle
    return (low + high) / 2
