"""How often the paired gate raises a false alarm, and how often it catches a real drop: measured on
synthetic runs whose true difference is known, with the gate's own decision (`family.regressions`),
on the golden set's own layout: ten slices of 8 to 42 cases, 209 cases in all, three of them in two
slices, so eleven comparisons (the slices and the overall score) at once.

The noise model is that of a live model graded pass/fail (0 or 100 points per attempt): each case
has its own chance of passing, drawn once per simulated golden set from a mix seen in practice,
most cases stable and some flaky:

- 10% almost always fail (p = 0.05),
- `flaky` (20% by default) are flaky: p uniform in 0.3..0.9,
- the rest (70%) almost always pass (p = 0.98).

The baseline runs every case `epochs` times; so does the new run, with each chance lowered by
`drop` points on the slices named (all of them by default: an overall drop). Run it to print the
figures the kit's README quotes:

    python -m agent_testkit.evals.calibration
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field

from agent_testkit.evals.family import Pair, regressions
from agent_testkit.evals.significance import DEFAULT_ALPHA

STABLE_FAIL, DEFAULT_FLAKY = 0.10, 0.20
PASS_P, FAIL_P, FLAKY_P = 0.98, 0.05, (0.3, 0.9)
# the mix's mean chance of passing: the true score of a slice drawn from it
MIX_MEAN = (
    STABLE_FAIL * FAIL_P
    + DEFAULT_FLAKY * sum(FLAKY_P) / 2
    + (1 - STABLE_FAIL - DEFAULT_FLAKY) * PASS_P
)
MAX_DROP = 2.0
# the golden set's slices (evals/golden) and their sizes; `documents` shares 3 cases with `safety`
GOLDEN_LAYOUT: dict[str, int] = {
    "runs": 8,
    "triage": 14,
    "clarification": 16,
    "projects": 16,
    "errors": 18,
    "safety": 24,
    "documents": 22,
    "tasks": 24,
    "conversation": 28,
    "research": 42,
}
SHARED = {"documents": 3}  # cases a slice shares with the slice before it


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


def run_once(rng: random.Random, chances: Sequence[float], epochs: int, drop: float) -> list[float]:
    """Per-case scores (means over epochs, in points) of one run, each chance lowered by `drop`."""
    draw = rng.random
    lowered = [max(0.0, p - drop / 100) for p in chances]
    return [100 * sum(draw() < p for _ in range(epochs)) / epochs for p in lowered]


def slice_members(layout: dict[str, int]) -> dict[str, range]:
    """Which case positions each slice of `layout` holds (consecutive; SHARED overlap)."""
    members, start = {}, 0
    for name, size in layout.items():
        start -= SHARED.get(name, 0)
        members[name] = range(start, start + size)
        start += size
    return members


@dataclass(frozen=True)
class FamilyCalibration:
    repetitions: int
    alarms: int  # repetitions where the gate failed (any comparison)
    caught: dict[str, int] = field(default_factory=dict)  # per comparison: times it failed

    @property
    def rate(self) -> float:
        return self.alarms / self.repetitions

    def caught_rate(self, name: str) -> float:
        return self.caught.get(name, 0) / self.repetitions


def measure_family(
    *,
    epochs: int,
    drop: float = 0.0,
    dropped: Sequence[str] = (),
    layout: dict[str, int] | None = None,
    repetitions: int = 1000,
    alpha: float = DEFAULT_ALPHA,
    max_drop: float = MAX_DROP,
    flaky: float = DEFAULT_FLAKY,
    seed: int = 0,
) -> FamilyCalibration:
    """How often the gate fails a run of the golden layout whose true drop is `drop` points on the
    slices `dropped` (every case when empty), and how often each comparison failed."""
    members = slice_members(layout or GOLDEN_LAYOUT)
    cases = max(r.stop for r in members.values())
    lowered = set().union(*(members[name] for name in dropped)) if dropped else set(range(cases))
    rng = random.Random(seed)  # noqa: S311 - a simulation, not a secret
    alarms, caught = 0, dict.fromkeys(["overall", *members], 0)
    for _ in range(repetitions):
        chances = pass_chances(rng, cases, flaky)
        before = run_once(rng, chances, epochs, 0.0)
        now = [*run_once(rng, chances, epochs, 0.0)]
        changed = run_once(rng, [chances[i] for i in sorted(lowered)], epochs, drop)
        for i, score in zip(sorted(lowered), changed, strict=True):
            now[i] = score
        pairs: dict[str, Pair] = {"overall": (before, now)}
        for name, where in members.items():
            pairs[name] = (before[where.start : where.stop], now[where.start : where.stop])
        failed = [
            n for n, d in regressions(pairs, max_drop=max_drop, alpha=alpha).items() if d.regressed
        ]
        alarms += bool(failed)
        for name in failed:
            caught[name] += 1
    return FamilyCalibration(repetitions, alarms, caught)


def main() -> None:
    for epochs in (1, 5):
        null = measure_family(epochs=epochs, repetitions=4000, seed=epochs)
        print(
            f"no change, {epochs} epoch(s): the gate fails {null.rate:.2%} of {null.repetitions} runs"
        )
    for drop in (3.0, 5.0):
        for epochs in (1, 5):
            real = measure_family(epochs=epochs, drop=drop, repetitions=2000, seed=7)
            print(
                f"a {drop:g}-point drop on every case, {epochs} epoch(s): overall caught "
                f"{real.caught_rate('overall'):.1%}, the gate failed {real.rate:.1%}"
            )
    for drop in (3.0, 5.0):
        for name in ("research", "tasks", "runs"):
            one = measure_family(epochs=5, drop=drop, dropped=[name], repetitions=1000, seed=8)
            print(
                f"a {drop:g}-point drop on {name} only, 5 epochs: caught {one.caught_rate(name):.1%}"
            )


if __name__ == "__main__":
    main()
