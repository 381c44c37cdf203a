"""Cohen's kappa of two raters' pass/fail verdicts (the judge's and a person's), with its interval.

Kappa is agreement beyond what chance gives: `(observed - chance) / (1 - chance)`, 1 perfect, 0 no
better than guessing from the base rates. On 24 labels its 95% interval is about +-0.3 wide, which
says almost nothing; on 200 it is about +-0.08. The interval is the large-sample one of Fleiss,
Cohen and Everitt (1969), `kappa +- z * SE` with the standard error of a non-null kappa, clipped to
[-1, 1]. When every label agrees that standard error is 0, yet a finite sample proves no perfect
judge: the lower bound is then the kappa of Wilson's lower bound on the observed agreement, with
the chance agreement as observed.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

from agent_testkit.evals.intervals import wilson
from agent_testkit.evals.stats import CONFIDENCE, Interval

Pair = tuple[bool, bool]  # (judge passed, person passed)


def _table(pairs: Sequence[Pair]) -> tuple[list[list[float]], list[float], list[float]]:
    """The 2x2 table of proportions (rows: first rater fail/pass, columns: second rater) and its
    margins."""
    n = len(pairs)
    table = [[0.0, 0.0], [0.0, 0.0]]
    for first, second in pairs:
        table[int(first)][int(second)] += 1 / n
    rows = [sum(table[i]) for i in (0, 1)]
    columns = [table[0][j] + table[1][j] for j in (0, 1)]
    return table, rows, columns


def cohen_kappa(pairs: Sequence[Pair]) -> float | None:
    """Cohen's kappa; None when chance agreement is already total (both always said one thing)."""
    if not pairs:
        return None
    table, rows, columns = _table(pairs)
    chance = rows[0] * columns[0] + rows[1] * columns[1]
    if chance >= 1:
        return None
    return (table[0][0] + table[1][1] - chance) / (1 - chance)


def kappa_standard_error(pairs: Sequence[Pair]) -> float | None:
    """The large-sample standard error of kappa (Fleiss, Cohen and Everitt 1969)."""
    kappa = cohen_kappa(pairs)
    if kappa is None:
        return None
    table, rows, columns = _table(pairs)
    chance = rows[0] * columns[0] + rows[1] * columns[1]
    same = sum(table[i][i] * (1 - (rows[i] + columns[i]) * (1 - kappa)) ** 2 for i in (0, 1))
    crossed = (1 - kappa) ** 2 * sum(
        table[i][j] * (columns[i] + rows[j]) ** 2 for i in (0, 1) for j in (0, 1) if i != j
    )
    bias = (kappa - chance * (1 - kappa)) ** 2
    variance = (same + crossed - bias) / (len(pairs) * (1 - chance) ** 2)
    return math.sqrt(max(0.0, variance))


def kappa_interval(pairs: Sequence[Pair], *, confidence: float = CONFIDENCE) -> Interval | None:
    """Kappa's interval (kappa units, -1..1); None when kappa is undefined."""
    kappa, se = cohen_kappa(pairs), kappa_standard_error(pairs)
    if kappa is None or se is None:
        return None
    z = statistics.NormalDist().inv_cdf(1 - (1 - confidence) / 2)
    if se > 0:
        return Interval(max(-1.0, kappa - z * se), min(1.0, kappa + z * se))
    table, rows, columns = _table(pairs)
    chance = rows[0] * columns[0] + rows[1] * columns[1]
    agreed_low, agreed_high = wilson(table[0][0] + table[1][1], len(pairs), confidence=confidence)
    return Interval(
        max(-1.0, (agreed_low - chance) / (1 - chance)),
        min(1.0, (agreed_high - chance) / (1 - chance)),
    )


__all__ = ["Pair", "cohen_kappa", "kappa_interval", "kappa_standard_error"]
