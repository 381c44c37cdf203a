"""How often the paired gate raises a false alarm, and how often it catches a real drop: measured on
synthetic runs whose true difference is known, with the gate's own decision function.

The noise model is that of a live model graded pass/fail (0 or 100 points per attempt): each case
has its own chance of passing, drawn once per slice from a mix seen in practice, most cases stable
and some flaky:

- 10% almost always fail (p = 0.05),
- `flaky` (20% by default) are flaky: p uniform in 0.3..0.9,
- the rest (70%) almost always pass (p = 0.98).

How much the gate can see depends on that flaky share, which is why every report states each
slice's minimum detectable effect measured on its own data.

The baseline runs every case `epochs` times; so does the new run, with each case's chance lowered
by `drop` points (0: the same model; 5: a real 5-point regression). The gate compares them per case
with `paired_verdict`. Run it to print the figures the kit's README quotes:

    python -m agent_testkit.evals.calibration
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from agent_testkit.evals.gate import DEFAULT_MAX_DROP, paired_verdict
from agent_testkit.evals.stats import unpaired_difference

STABLE_FAIL, DEFAULT_FLAKY = 0.10, 0.20
PASS_P, FAIL_P, FLAKY_P = 0.98, 0.05, (0.3, 0.9)


def pass_chances(rng: random.Random, cases: int, flaky: float = DEFAULT_FLAKY) -> list[float]:
    """Each case's chance of passing an attempt, from the mix above."""
    chances = []
    for _ in range(cases):
        kind = rng.random()
        if kind < STABLE_FAIL:
            chances.append(FAIL_P)
        elif kind < STABLE_FAIL + flaky:
            chances.append(rng.uniform(*FLAKY_P))
        else:
            chances.append(PASS_P)
    return chances


def run_once(rng: random.Random, chances: list[float], epochs: int, drop: float) -> list[float]:
    """Per-case scores (means over epochs, in points) of one run, each chance lowered by `drop`."""
    lowered = [max(0.0, p - drop / 100) for p in chances]
    return [100 * sum(rng.random() < p for _ in range(epochs)) / epochs for p in lowered]


@dataclass(frozen=True)
class Calibration:
    repetitions: int
    alarms: int  # repetitions where the gate failed the slice
    mean_mde: float  # the smallest detectable drop the gate reported, on average
    paired_width: float  # mean width of the paired 95% interval
    unpaired_width: float  # mean width of the unpaired one on the same data

    @property
    def rate(self) -> float:
        return self.alarms / self.repetitions


def measure(
    *,
    drop: float,
    cases: int = 100,
    epochs: int = 5,
    repetitions: int = 1000,
    max_drop: float = DEFAULT_MAX_DROP,
    flaky: float = DEFAULT_FLAKY,
    seed: int = 0,
) -> Calibration:
    """How often the gate fails a slice of `cases` cases, `epochs` epochs, true drop `drop`."""
    rng = random.Random(seed)  # noqa: S311 - a simulation, not a secret
    alarms, mde, paired_width, unpaired_width = 0, 0.0, 0.0, 0.0
    for _ in range(repetitions):
        chances = pass_chances(rng, cases, flaky)
        before = run_once(rng, chances, epochs, 0.0)
        now = run_once(rng, chances, epochs, drop)
        regressed, paired = paired_verdict(before, now, max_drop)
        alarms += regressed
        mde += paired.mde
        paired_width += paired.interval.width()
        unpaired_width += unpaired_difference(before, now).interval.width()
    return Calibration(
        repetitions,
        alarms,
        mde / repetitions,
        paired_width / repetitions,
        unpaired_width / repetitions,
    )


def main() -> None:
    null = measure(drop=0.0, repetitions=2000, seed=1)
    real = measure(drop=5.0, repetitions=2000, seed=2)
    print(
        f"false alarms (true drop 0, 100 cases x 5 epochs, 20% flaky): {null.rate:.1%} "
        f"of {null.repetitions} runs"
    )
    print(
        f"power (true drop 5 points, 100 cases x 5 epochs, 20% flaky): {real.rate:.1%} "
        f"of {real.repetitions} runs; mean reported MDE {real.mean_mde:.2f} points"
    )
    print(f"95% interval width: paired {real.paired_width:.2f}, unpaired {real.unpaired_width:.2f}")
    for flaky in (0.1, 0.3, 0.4):
        other = measure(drop=5.0, repetitions=1000, flaky=flaky, seed=3)
        print(
            f"  with {flaky:.0%} flaky cases: power {other.rate:.1%}, "
            f"mean MDE {other.mean_mde:.2f} points"
        )


if __name__ == "__main__":
    main()
