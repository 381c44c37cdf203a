"""The regression gate: this run's scores against a committed baseline.

It fails when the overall score or any slice's drops by more than `max_drop` points (2 by default),
or when a slice of the baseline is gone. New slices and better scores pass; `accept` makes this run
the new baseline. The baseline file holds no timestamps, so accepting an unchanged run changes nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent_testkit.evals.scoring import CaseResult, Scores, aggregate

DEFAULT_MAX_DROP = 2.0
BASELINE_VERSION = 1


class BaselineError(ValueError):
    """A baseline file that cannot be read."""


@dataclass(frozen=True)
class Baseline:
    overall: float
    slices: dict[str, float]
    cases: dict[str, float] = field(default_factory=dict)
    model: str = "scripted"

    @classmethod
    def from_scores(cls, scores: Scores, *, model: str = "scripted") -> Baseline:
        return cls(
            float(scores.overall),
            {k: float(v) for k, v in scores.slices.items()},
            {k: float(v) for k, v in scores.cases.items()},
            model,
        )

    @classmethod
    def load(cls, path: str | Path) -> Baseline:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            return cls(
                float(data["overall"]),
                {k: float(v) for k, v in data["slices"].items()},
                {k: float(v) for k, v in data.get("cases", {}).items()},
                str(data.get("model", "scripted")),
            )
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise BaselineError(f"cannot read the baseline {str(path)!r}: {exc}") from exc

    def restricted(self, results: list[CaseResult]) -> Baseline:
        """The baseline of only these cases (a filtered run), from its per-case scores and the
        cases' tags, so a subset is compared with the same subset."""
        known = [r for r in results if r.case_id in self.cases]
        subset = [CaseResult(r.case_id, r.tags, r.agent, self.cases[r.case_id]) for r in known]
        return Baseline.from_scores(aggregate(subset), model=self.model)

    def to_json(self) -> dict[str, Any]:
        return {
            "version": BASELINE_VERSION,
            "model": self.model,
            "overall": self.overall,
            "slices": dict(sorted(self.slices.items())),
            "cases": dict(sorted(self.cases.items())),
        }

    def save(self, path: str | Path) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(self.to_json(), indent=2) + "\n", encoding="utf-8")


@dataclass(frozen=True)
class Check:
    """One comparison: `overall` or a slice, with the baseline's and this run's score."""

    name: str
    baseline: float | None
    current: float | None
    passed: bool
    reason: str

    @property
    def delta(self) -> float | None:
        if self.baseline is None or self.current is None:
            return None
        return round(self.current - self.baseline, 2)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "baseline": self.baseline,
            "current": self.current,
            "delta": self.delta,
            "passed": self.passed,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class GateReport:
    checks: list[Check]
    max_drop: float
    has_baseline: bool = True

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)

    @property
    def failures(self) -> list[Check]:
        return [check for check in self.checks if not check.passed]

    def summary(self) -> str:
        if not self.has_baseline:
            return "no baseline to compare with: run `eval accept` to create one"
        if self.passed:
            return f"gate passed: no score dropped by more than {self.max_drop:g} points"
        return "gate FAILED: " + "; ".join(check.reason for check in self.failures)

    def to_json(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "max_drop": self.max_drop,
            "has_baseline": self.has_baseline,
            "summary": self.summary(),
            "checks": [check.to_json() for check in self.checks],
        }


def compare(
    scores: Scores, baseline: Baseline | None, *, max_drop: float = DEFAULT_MAX_DROP
) -> GateReport:
    """Check the overall score and each slice against the baseline."""
    if baseline is None:
        checks = [Check("overall", None, scores.overall, True, "no baseline")]
        checks += [
            Check(f"slice {s}", None, v, True, "no baseline") for s, v in scores.slices.items()
        ]
        return GateReport(checks, max_drop, has_baseline=False)
    checks = [_check("overall", baseline.overall, scores.overall, max_drop)]
    for name in sorted(set(baseline.slices) | set(scores.slices)):
        checks.append(
            _check(f"slice {name}", baseline.slices.get(name), scores.slices.get(name), max_drop)
        )
    return GateReport(checks, max_drop)


def _check(name: str, before: float | None, now: float | None, max_drop: float) -> Check:
    if now is None:
        return Check(name, before, None, False, f"{name} is gone (it scored {before:.2f})")
    if before is None:
        return Check(name, None, now, True, f"{name} is new: {now:.2f}")
    drop = round(before - now, 2)
    if drop > max_drop:
        return Check(
            name,
            before,
            now,
            False,
            f"{name} dropped {drop:.2f} points ({before:.2f} -> {now:.2f})",
        )
    return Check(name, before, now, True, f"{name} {now:.2f} (baseline {before:.2f})")


@dataclass(frozen=True)
class CaseChange:
    """A case whose score differs from the baseline's (or that is new, or gone)."""

    case_id: str
    tags: tuple[str, ...]
    baseline: float | None
    current: float | None
    reason: str

    @property
    def delta(self) -> float | None:
        if self.baseline is None or self.current is None:
            return None
        return round(self.current - self.baseline, 2)


def changed_cases(results: list[CaseResult], baseline: Baseline | None) -> list[CaseChange]:
    """Cases that moved, worst drop first; gone cases last."""
    before = baseline.cases if baseline else {}
    changes = [
        CaseChange(r.case_id, r.tags, before.get(r.case_id), r.score, r.reason)
        for r in results
        if before.get(r.case_id) != r.score
    ]
    current = {r.case_id for r in results}
    gone = [
        CaseChange(case_id, (), score, None, "the case is gone")
        for case_id, score in sorted(before.items())
        if case_id not in current
    ]
    changes.sort(key=lambda c: (c.delta if c.delta is not None else 0.0, c.case_id))
    return changes + gone
