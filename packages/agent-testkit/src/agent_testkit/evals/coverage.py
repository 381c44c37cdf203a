"""How often an interval really holds the true score: the simulation that chose the kit's intervals.

Each repetition draws a slice of `cases` cases from a population of pass chances (the mix of
`calibration.pass_chances`, or every case alike), runs each `epochs` times pass/fail, and checks
whether the interval holds the population's true mean (for a paired difference: the true change).
The kit's tests run it at 8, 14, 22, 42 and 209 cases, 1 and 5 epochs:

    python -m agent_testkit.evals.coverage
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from agent_testkit.evals.calibration import MIX_MEAN, pass_chances, run_once
from agent_testkit.evals.intervals import paired_interval, score_interval
from agent_testkit.evals.stats import Interval, bootstrap_interval

SIZES, EPOCHS = (8, 14, 22, 42, 209), (1, 5)
ScoreInterval = Callable[[Sequence[float], int], Interval]


def wilson_over_cases(scores: Sequence[float], attempts: int) -> Interval:
    """The kit's interval (`intervals.score_interval`)."""
    return score_interval(scores)


def percentile_bootstrap(scores: Sequence[float], attempts: int) -> Interval:
    """The interval the kit used before: a percentile bootstrap over cases (for comparison)."""
    return bootstrap_interval(scores, resamples=400)


@dataclass(frozen=True)
class Coverage:
    repetitions: int
    covered: int
    zero_width: int
    mean_width: float

    @property
    def rate(self) -> float:
        return self.covered / self.repetitions


def _chances(rng: random.Random, cases: int, alike: float | None) -> list[float]:
    return [alike] * cases if alike is not None else pass_chances(rng, cases)


def score_coverage(
    *,
    cases: int,
    epochs: int,
    repetitions: int = 1000,
    alike: float | None = None,
    interval: ScoreInterval = wilson_over_cases,
    seed: int = 0,
) -> Coverage:
    """How often `interval` holds the true mean score (every case at chance `alike`, or the mix)."""
    rng = random.Random(seed)  # noqa: S311 - a simulation, not a secret
    truth = 100 * (alike if alike is not None else MIX_MEAN)
    covered = zero = 0
    width = 0.0
    for _ in range(repetitions):
        scores = run_once(rng, _chances(rng, cases, alike), epochs, 0.0)
        found = interval(scores, cases * epochs)
        covered += found.low <= truth <= found.high
        zero += found.width() <= 0
        width += found.width()
    return Coverage(repetitions, covered, zero, width / repetitions)


def paired_coverage(
    *,
    cases: int,
    epochs: int,
    drop: float = 0.0,
    repetitions: int = 1000,
    alike: float | None = None,
    seed: int = 0,
) -> Coverage:
    """How often the paired interval of `now - before` holds the true change, `-drop` points."""
    rng = random.Random(seed)  # noqa: S311 - a simulation, not a secret
    covered = zero = 0
    width = 0.0
    for _ in range(repetitions):
        chances = _chances(rng, cases, alike)
        before = run_once(rng, chances, epochs, 0.0)
        now = run_once(rng, chances, epochs, drop)
        found = paired_interval(before, now)
        covered += found.low <= -drop <= found.high
        zero += found.width() <= 0
        width += found.width()
    return Coverage(repetitions, covered, zero, width / repetitions)


def main() -> None:
    print(
        "cases epochs | Wilson over cases (mix) | p=0.97 | paired, drop 0 | paired, drop 5 | bootstrap (mix)"
    )
    for cases in SIZES:
        for epochs in EPOCHS:
            row = [
                score_coverage(cases=cases, epochs=epochs, seed=1),
                score_coverage(cases=cases, epochs=epochs, alike=0.97, seed=2),
                paired_coverage(cases=cases, epochs=epochs, seed=3),
                paired_coverage(cases=cases, epochs=epochs, drop=5.0, seed=4),
                score_coverage(
                    cases=cases, epochs=epochs, interval=percentile_bootstrap, repetitions=300
                ),
            ]
            cells = " | ".join(f"{c.rate:6.1%} (w {c.mean_width:5.1f})" for c in row)
            print(f"{cases:5d} {epochs:6d} | {cells}")


if __name__ == "__main__":
    main()
