"""The regression gate: this run's scores against a committed baseline.

Two rules, by how the run was made:

- **exact** (a deterministic run: the scripted model without variation): the overall score or a
  slice fails when it drops by more than `max_drop` points (2 by default). Every score is exact, so
  every drop is real.
- **paired** (a live model, cassettes, or scripted epochs with variation): a score moves from run to
  run by chance, so the comparison is per case, `now_i - before_i` on the cases both runs have, and
  a slice fails only when its mean drop is over `max_drop` **and** the 95% interval of that paired
  difference excludes zero. Each check also carries the smallest drop the comparison can detect at
  its size (the MDE at 80% power, see `stats`), and a warning when that is over `max_drop`.

A slice of the baseline that is gone fails under both rules; new slices and better scores pass;
`accept` makes a run the new baseline. The baseline file holds per-case scores (and, with epochs,
each epoch's) and no timestamps, so accepting an unchanged run changes nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent_testkit.evals.scoring import CaseResult, Scores, aggregate, case_outcomes
from agent_testkit.evals.stats import (
    Difference,
    Interval,
    expected_paired_se,
    minimum_detectable_effect,
    paired_difference,
)

DEFAULT_MAX_DROP = 2.0
BASELINE_VERSION = 2
EXACT, PAIRED = "exact", "paired"


def _hundredths(points: float) -> float:
    """Scores are compared and shown to the hundredth of a point, as the reasons print them: a
    drop shown as 2.00 never fails a 2-point gate, and float noise never shows."""
    return round(points, 2)


class BaselineError(ValueError):
    """A baseline file that cannot be read."""


@dataclass(frozen=True)
class Baseline:
    overall: float
    slices: dict[str, float]
    cases: dict[str, float] = field(default_factory=dict)
    model: str = "scripted"
    epochs: dict[str, list[float]] = field(default_factory=dict)  # only for runs with epochs

    @classmethod
    def from_scores(cls, scores: Scores, *, model: str = "scripted") -> Baseline:
        repeated = any(len(v) > 1 for v in scores.epochs.values())
        return cls(
            float(scores.overall),
            {k: float(v) for k, v in scores.slices.items()},
            {k: float(v) for k, v in scores.cases.items()},
            model,
            {k: [float(x) for x in v] for k, v in scores.epochs.items()} if repeated else {},
        )

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Baseline:
        return cls(
            float(data["overall"]),
            {k: float(v) for k, v in data["slices"].items()},
            {k: float(v) for k, v in data.get("cases", {}).items()},
            str(data.get("model", "scripted")),
            {k: [float(x) for x in v] for k, v in (data.get("epochs") or {}).items()},
        )

    @classmethod
    def load(cls, path: str | Path) -> Baseline:
        try:
            return cls.from_json(json.loads(Path(path).read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise BaselineError(f"cannot read the baseline {str(path)!r}: {exc}") from exc

    def restricted(self, results: list[CaseResult]) -> Baseline:
        """The baseline of only these cases (a filtered run), from its per-case scores and the
        cases' tags, so a subset is compared with the same subset."""
        subset: list[CaseResult] = []
        for outcome in case_outcomes(results):
            if outcome.case_id not in self.cases:
                continue
            scores = self.epochs.get(outcome.case_id) or [self.cases[outcome.case_id]]
            subset += [
                CaseResult(outcome.case_id, outcome.tags, "", score, epoch=n)
                for n, score in enumerate(scores)
            ]
        return Baseline.from_scores(aggregate(subset), model=self.model)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "version": BASELINE_VERSION,
            "model": self.model,
            "overall": self.overall,
            "slices": dict(sorted(self.slices.items())),
            "cases": dict(sorted(self.cases.items())),
        }
        if self.epochs:
            data["epochs"] = dict(sorted(self.epochs.items()))
        return data

    def save(self, path: str | Path) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(self.to_json(), indent=2) + "\n", encoding="utf-8")


@dataclass(frozen=True)
class Check:
    """One comparison: `overall` or a slice, with the baseline's and this run's score, this run's
    95% interval, and (paired rule) the per-case difference and the smallest detectable drop."""

    name: str
    baseline: float | None
    current: float | None
    passed: bool
    reason: str
    interval: Interval | None = None
    rule: str = EXACT
    paired: Difference | None = None
    mde: float | None = None
    max_drop: float = DEFAULT_MAX_DROP
    cases: int = 0

    @property
    def delta(self) -> float | None:
        if self.paired is not None and self.paired.n:
            return _hundredths(self.paired.mean)
        if self.baseline is None or self.current is None:
            return None
        return _hundredths(self.current - self.baseline)

    @property
    def underpowered(self) -> bool:
        """The gate cannot reliably see a drop of `max_drop` here: too few cases for the noise."""
        return self.mde is not None and self.mde > self.max_drop

    @property
    def warning(self) -> str:
        if not self.underpowered or self.mde is None:
            return ""
        return (
            f"{self.name} can only detect drops of {self.mde:.1f} points or more "
            f"({self.cases} cases): add cases or epochs"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "baseline": self.baseline,
            "current": self.current,
            "delta": self.delta,
            "passed": self.passed,
            "reason": self.reason,
            "rule": self.rule,
            "cases": self.cases,
            "interval": self.interval.to_json() if self.interval else None,
            "paired": self.paired.to_json() if self.paired else None,
            "mde": None if self.mde is None else _hundredths(self.mde),
            "warning": self.warning,
        }


@dataclass(frozen=True)
class GateReport:
    checks: list[Check]
    max_drop: float
    has_baseline: bool
    rule: str = EXACT

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)

    @property
    def failures(self) -> list[Check]:
        return [check for check in self.checks if not check.passed]

    @property
    def warnings(self) -> list[str]:
        return [check.warning for check in self.checks if check.warning]

    def summary(self) -> str:
        if not self.has_baseline:
            return "no baseline to compare with: run `eval accept` to create one"
        if self.passed and self.rule == PAIRED:
            return (
                f"gate passed: no score dropped by more than {self.max_drop:g} points "
                "beyond the noise (paired per case, 95%)"
            )
        if self.passed:
            return f"gate passed: no score dropped by more than {self.max_drop:g} points"
        return "gate FAILED: " + "; ".join(check.reason for check in self.failures)

    def to_json(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "max_drop": self.max_drop,
            "has_baseline": self.has_baseline,
            "rule": self.rule,
            "summary": self.summary(),
            "warnings": self.warnings,
            "checks": [check.to_json() for check in self.checks],
        }


def compare(
    scores: Scores,
    baseline: Baseline | None,
    *,
    max_drop: float = DEFAULT_MAX_DROP,
    exact: bool = True,
) -> GateReport:
    """Check the overall score and each slice against the baseline, by the exact rule (a
    deterministic run) or the paired one (`exact=False`)."""
    rule = EXACT if exact else PAIRED
    names = ["overall", *sorted(set(baseline.slices if baseline else {}) | set(scores.slices))]
    checks = [_check(name, scores, baseline, max_drop, rule) for name in names]
    return GateReport(checks, max_drop, has_baseline=baseline is not None, rule=rule)


def _check(
    name: str, scores: Scores, baseline: Baseline | None, max_drop: float, rule: str
) -> Check:
    label = name if name == "overall" else f"slice {name}"
    now = scores.overall if name == "overall" else scores.slices.get(name)
    before = None
    if baseline is not None:
        before = baseline.overall if name == "overall" else baseline.slices.get(name)
    members = scores.slice_cases(name)
    common: dict[str, Any] = {
        "interval": scores.interval(name),
        "rule": rule,
        "max_drop": max_drop,
        "cases": len(members),
    }
    if rule == PAIRED:
        common["mde"] = minimum_detectable_effect(
            expected_paired_se([scores.epochs.get(c, [scores.cases[c]]) for c in members]),
            len(members),
        )
    if baseline is None:
        return Check(label, None, now, True, "no baseline", **common)
    if now is None:
        reason = f"{label} is gone (it scored {before:.2f})"
        return Check(label, before, None, False, reason, rule=rule, max_drop=max_drop)
    if before is None:
        return Check(label, None, now, True, f"{label} is new: {now:.2f}", **common)
    if rule == EXACT:
        return _exact(label, before, now, max_drop, common)
    return _paired(label, before, now, max_drop, common, scores, baseline, members)


def _exact(label: str, before: float, now: float, max_drop: float, common: dict[str, Any]) -> Check:
    drop = _hundredths(before - now)
    if drop > max_drop:
        reason = f"{label} dropped {drop:.2f} points ({before:.2f} -> {now:.2f})"
        return Check(label, before, now, False, reason, **common)
    return Check(label, before, now, True, f"{label} {now:.2f} (baseline {before:.2f})", **common)


def paired_verdict(
    before: list[float], now: list[float], max_drop: float
) -> tuple[bool, Difference]:
    """The paired rule on one slice (per-case scores, same order): regressed when the mean drop is
    over `max_drop` and the 95% interval of the per-case difference lies wholly below zero."""
    paired = paired_difference(before, now)
    return -paired.mean > max_drop and paired.interval.high < 0, paired


def _paired(
    label: str,
    before: float,
    now: float,
    max_drop: float,
    common: dict[str, Any],
    scores: Scores,
    baseline: Baseline,
    members: list[str],
) -> Check:
    shared = [c for c in members if c in baseline.cases]
    if len(shared) < 2:  # nothing to pair: the scores as they are
        return _exact(label, before, now, max_drop, common)
    regressed, paired = paired_verdict(
        [baseline.cases[c] for c in shared], [scores.cases[c] for c in shared], max_drop
    )
    if paired.se > 0:  # measured noise: the MDE of this very comparison
        common["mde"] = paired.mde
    drop, ci = -paired.mean, paired.interval
    where = (
        f"paired over {paired.n} cases, 95% interval of the change [{ci.low:+.2f}, {ci.high:+.2f}]"
    )
    if regressed:
        reason = f"{label} dropped {drop:.2f} points ({before:.2f} -> {now:.2f}; {where})"
        return Check(label, before, now, False, reason, paired=paired, **common)
    if drop > max_drop:
        reason = f"{label} {-drop:+.2f}: within the noise ({where} includes 0)"
    else:
        reason = f"{label} {now:.2f} (baseline {before:.2f}; {where})"
    return Check(label, before, now, True, reason, paired=paired, **common)


@dataclass(frozen=True)
class CaseChange:
    """A case whose score differs from the baseline's (or that is new, or gone)."""

    case_id: str
    tags: tuple[str, ...]
    baseline: float | None
    current: float | None
    reason: str
    description: str = ""
    known_weakness: str = ""
    epochs: tuple[float, ...] = ()

    @property
    def delta(self) -> float | None:
        if self.baseline is None or self.current is None:
            return None
        return _hundredths(self.current - self.baseline)


def changed_cases(results: list[CaseResult], baseline: Baseline | None) -> list[CaseChange]:
    """Cases that moved (their mean over epochs), worst drop first; gone cases last."""
    before = baseline.cases if baseline else {}
    outcomes = case_outcomes(results)
    changes = [
        CaseChange(
            o.case_id,
            o.tags,
            before.get(o.case_id),
            o.score,
            o.reason,
            o.description,
            o.known_weakness,
            tuple(o.epoch_scores),
        )
        for o in outcomes
        if before.get(o.case_id) != o.score
    ]
    current = {o.case_id for o in outcomes}
    gone = [
        CaseChange(case_id, (), score, None, "the case is gone")
        for case_id, score in sorted(before.items())
        if case_id not in current
    ]
    changes.sort(key=lambda c: (c.delta if c.delta is not None else 0.0, c.case_id))
    return changes + gone
