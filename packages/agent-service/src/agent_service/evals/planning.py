"""`agent-service eval plan`: before a run, the power of the gate on each slice and what it takes
to reach 80%: the numbers behind "add cases" and "run more epochs"."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from agent_testkit.evals import Baseline, load_cases
from agent_testkit.evals.power import (
    MAX_EPOCHS,
    SlicePlan,
    measured_attempt_variance,
    mix_attempt_variance,
    plan_slice,
)


@dataclass(frozen=True)
class Plan:
    noise: str  # where the noise figure comes from, in a sentence
    comparisons: int
    rows: list[SlicePlan]


def golden_slice_sizes(golden: Path) -> dict[str, int]:
    """The golden set's slices and their number of cases, and `overall`."""
    cases = load_cases(golden)
    sizes = Counter(tag for case in cases for tag in case.tags)
    return {"overall": len(cases), **dict(sorted(sizes.items()))}


def numbered_sizes(sizes: Sequence[int]) -> dict[str, int]:
    """Sizes given on the command line: slices `s1`, `s2`... and their sum as `overall`."""
    return {"overall": sum(sizes), **{f"s{n}": size for n, size in enumerate(sizes, start=1)}}


def attempt_noise(baseline: Path | None, flaky: float) -> tuple[float, str]:
    """The variance of one attempt (points squared), measured by a baseline with epochs or
    taken from the noise model, and a sentence saying which."""
    if baseline is not None and baseline.exists():
        measured = measured_attempt_variance(list(Baseline.load(baseline).epochs.values()))
        if measured is not None:
            return (
                measured,
                f"measured from the epochs of {baseline} (SD {measured**0.5:.1f} points)",
            )
    variance = mix_attempt_variance(flaky)
    return variance, (
        f"the noise model (pass/fail attempts, {flaky:.0%} flaky cases; SD {variance**0.5:.1f} "
        "points per attempt): accept a baseline run with --epochs to measure your own"
    )


def make_plan(
    sizes: dict[str, int],
    epochs: Sequence[int],
    *,
    drop: float,
    max_drop: float,
    alpha: float,
    variance: float,
    noise: str,
) -> Plan:
    """One row per slice and number of epochs."""
    rows = [
        plan_slice(
            name,
            cases,
            runs,
            drop=drop,
            attempt_variance=variance,
            max_drop=max_drop,
            alpha=alpha,
            comparisons=len(sizes),
        )
        for runs in epochs
        for name, cases in sizes.items()
    ]
    return Plan(noise, len(sizes), rows)


def needed_text(value: int | None, limit: int) -> str:
    return f"> {limit}" if value is None else str(value)


__all__ = ["MAX_EPOCHS", "Plan", "attempt_noise", "golden_slice_sizes", "make_plan", "needed_text"]
