"""The regression gate: this run's scores against a committed baseline.

Two rules, by how the run was made:

- **exact** (a deterministic run: the scripted model without variation): the overall score or a
  slice fails when it drops by more than `max_drop` points (2 by default). Every score is exact, so
  every drop is real.
- **paired** (a live model, cassettes, or scripted epochs with variation): a score moves from run to
  run by chance, so the comparison is per case, `now_i - before_i` on the cases both runs have.
  The overall score and every slice are one family of tests: a comparison fails only when its drop
  is significant with the family-wise error rate held at `alpha` (5% by default; one-sided paired
  t-tests, Holm's step-down: `family`) **and** its mean drop is over `max_drop`. Each check carries
  its 95% interval of the change (Newcombe's, `intervals`), its raw and Holm-adjusted p-values, and
  the smallest drop it catches with 80% probability (`power`); a check that cannot catch a drop of
  `detect` points (5 by default) warns, with the number of cases that would.

A slice of the baseline that is gone fails under both rules; new slices and better scores pass;
`accept` makes a run the new baseline.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agent_testkit.evals.baseline import BASELINE_VERSION, Baseline, BaselineError
from agent_testkit.evals.changes import CaseChange, changed_cases
from agent_testkit.evals.family import Decision, Pair, regressions
from agent_testkit.evals.intervals import paired_interval
from agent_testkit.evals.judge_check import JudgeCheck
from agent_testkit.evals.power import plan_slice
from agent_testkit.evals.scoring import Scores
from agent_testkit.evals.significance import DEFAULT_ALPHA, RULE_TEXT
from agent_testkit.evals.stats import Difference, Interval, expected_paired_se

DEFAULT_MAX_DROP = 2.0
DEFAULT_DETECT = 5.0  # a slice that cannot catch a drop this big (80% power) warns
EXACT, PAIRED = "exact", "paired"


def _hundredths(points: float) -> float:
    """Scores are compared and shown to the hundredth of a point, as the reasons print them: a
    drop shown as 2.00 never fails a 2-point gate, and float noise never shows."""
    return round(points, 2)


@dataclass(frozen=True)
class Check:
    """One comparison: `overall` or a slice, with the baseline's and this run's score, this run's
    95% interval, and (paired rule) the per-case difference, its p-values and the smallest drop
    it catches with 80% probability."""

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
    p_value: float | None = None  # one-sided, "no drop" (paired rule)
    adjusted_p: float | None = None  # Holm-adjusted over the family
    detect: float = DEFAULT_DETECT
    cases_needed: int | None = None  # to catch a drop of `detect` with 80% probability

    @property
    def delta(self) -> float | None:
        if self.paired is not None and self.paired.n:
            return _hundredths(self.paired.mean)
        if self.baseline is None or self.current is None:
            return None
        return _hundredths(self.current - self.baseline)

    @property
    def underpowered(self) -> bool:
        """The gate cannot reliably catch a drop of `detect` points here: too few cases."""
        return self.mde is not None and self.mde > self.detect

    @property
    def warning(self) -> str:
        if not self.underpowered or self.mde is None:
            return ""
        more = (
            f"about {self.cases_needed - self.cases} more cases"
            if self.cases_needed and self.cases_needed > self.cases
            else "more cases or epochs"
        )
        return (
            f"{self.name} is too small to catch a {self.detect:g}-point drop: it catches drops of "
            f"{self.mde:.1f} points or more ({self.cases} cases); add {more}"
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
            "p_value": None if self.p_value is None else round(self.p_value, 4),
            "adjusted_p": None if self.adjusted_p is None else round(self.adjusted_p, 4),
            "mde": None if self.mde is None else _hundredths(self.mde),
            "cases_needed": self.cases_needed,
            "warning": self.warning,
        }


@dataclass(frozen=True)
class GateReport:
    checks: list[Check]
    max_drop: float
    has_baseline: bool
    rule: str = EXACT
    alpha: float = DEFAULT_ALPHA
    judge: JudgeCheck | None = None  # None: no score of the run rests on a judge

    @property
    def refused(self) -> bool:
        """The run's scores rest on a judge that is not calibrated well enough to gate."""
        return self.judge is not None and not self.judge.passed

    @property
    def passed(self) -> bool:
        return not self.refused and all(check.passed for check in self.checks)

    @property
    def failures(self) -> list[Check]:
        return [check for check in self.checks if not check.passed]

    @property
    def warnings(self) -> list[str]:
        return [check.warning for check in self.checks if check.warning]

    @property
    def method(self) -> str:
        """The rule in a sentence, as the report states it."""
        if self.rule == EXACT:
            return (
                f"exact: a deterministic run, every drop is real; a score fails when it drops by "
                f"more than {self.max_drop:g} points"
            )
        return (
            f"paired per case, one-sided t-tests, {RULE_TEXT} ({len(self.checks)} comparisons), "
            f"family-wise alpha {self.alpha:g}; a score fails when its drop is significant under "
            f"the correction and over {self.max_drop:g} points"
        )

    def summary(self) -> str:
        if not self.has_baseline:
            return "no baseline to compare with: run `eval accept` to create one"
        if self.judge is not None and self.refused:
            return "gate REFUSED: " + self.judge.reason
        if self.passed and self.rule == PAIRED:
            return (
                f"gate passed: no score dropped by more than {self.max_drop:g} points beyond the "
                f"noise (paired per case, Holm-corrected, family-wise alpha {self.alpha:g})"
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
            "alpha": self.alpha,
            "correction": "holm" if self.rule == PAIRED else None,
            "method": self.method,
            "summary": self.summary(),
            "warnings": self.warnings,
            "judge": self.judge.to_json() if self.judge else None,
            "checks": [check.to_json() for check in self.checks],
        }


@dataclass(frozen=True)
class _Setting:
    max_drop: float
    rule: str
    alpha: float
    detect: float
    comparisons: int


def compare(
    scores: Scores,
    baseline: Baseline | None,
    *,
    max_drop: float = DEFAULT_MAX_DROP,
    exact: bool = True,
    alpha: float = DEFAULT_ALPHA,
    detect: float = DEFAULT_DETECT,
    judge: JudgeCheck | None = None,
) -> GateReport:
    """Check the overall score and each slice against the baseline, by the exact rule (a
    deterministic run) or the paired one (`exact=False`: Holm over all the checks at `alpha`).
    `judge`: whether the judge the scores rest on may gate (`judge_check.check_judge`); when it
    may not, the gate refuses whatever the scores say."""
    rule = EXACT if exact else PAIRED
    names = ["overall", *sorted(set(baseline.slices if baseline else {}) | set(scores.slices))]
    setting = _Setting(max_drop, rule, alpha, detect, len(names))
    decisions: dict[str, Decision] = {}
    pairs: dict[str, Pair] = {}
    if rule == PAIRED and baseline is not None:
        pairs = _pairs(names, scores, baseline)
        decisions = regressions(pairs, max_drop=max_drop, alpha=alpha)
    checks = [
        _check(name, scores, baseline, setting, decisions.get(name), pairs.get(name))
        for name in names
    ]
    return GateReport(
        checks, max_drop, has_baseline=baseline is not None, rule=rule, alpha=alpha, judge=judge
    )


def _pairs(names: list[str], scores: Scores, baseline: Baseline) -> dict[str, Pair]:
    """Per comparison, the per-case scores of the cases both runs have (two at least)."""
    pairs: dict[str, Pair] = {}
    for name in names:
        shared = [c for c in scores.slice_cases(name) if c in baseline.cases]
        if len(shared) >= 2 and (name == "overall" or name in baseline.slices):
            pairs[name] = ([baseline.cases[c] for c in shared], [scores.cases[c] for c in shared])
    return pairs


def _check(
    name: str,
    scores: Scores,
    baseline: Baseline | None,
    setting: _Setting,
    decision: Decision | None,
    pair: Pair | None,
) -> Check:
    label = name if name == "overall" else f"slice {name}"
    now = scores.overall if name == "overall" else scores.slices.get(name)
    before = None
    if baseline is not None:
        before = baseline.overall if name == "overall" else baseline.slices.get(name)
    members = scores.slice_cases(name)
    common: dict[str, Any] = {
        "interval": scores.interval(name),
        "rule": setting.rule,
        "max_drop": setting.max_drop,
        "cases": len(members),
        "detect": setting.detect,
    }
    if setting.rule == PAIRED:
        se = expected_paired_se([scores.epochs.get(c, [scores.cases[c]]) for c in members])
        common |= _power(se, len(members), setting, scores.epochs, members)
    if baseline is None:
        return Check(label, None, now, True, "no baseline", **common)
    if now is None:
        reason = f"{label} is gone (it scored {before:.2f})"
        return Check(
            label, before, None, False, reason, rule=setting.rule, max_drop=setting.max_drop
        )
    if before is None:
        return Check(label, None, now, True, f"{label} is new: {now:.2f}", **common)
    if decision is None or pair is None:  # exact rule, or nothing to pair: the scores as they are
        return _exact(label, before, now, setting.max_drop, common)
    return _paired(label, before, now, setting, common, decision, pair, scores.epochs, members)


def _power(
    se: float, cases: int, setting: _Setting, epochs: dict[str, list[float]], members: list[str]
) -> dict[str, Any]:
    """The smallest drop this comparison catches (80%) and the cases that would catch `detect`."""
    if se <= 0 or cases < 2:
        return {"mde": None, "cases_needed": None}
    runs = max(1, round(sum(len(epochs.get(c, [0.0])) for c in members) / cases))
    plan = plan_slice(
        "",
        cases,
        runs,
        drop=setting.detect,
        attempt_variance=se * se * cases * runs / 2,
        max_drop=setting.max_drop,
        alpha=setting.alpha,
        comparisons=setting.comparisons,
    )
    return {"mde": plan.detectable, "cases_needed": plan.cases_needed}


def _exact(label: str, before: float, now: float, max_drop: float, common: dict[str, Any]) -> Check:
    drop = _hundredths(before - now)
    if drop > max_drop:
        reason = f"{label} dropped {drop:.2f} points ({before:.2f} -> {now:.2f})"
        return Check(label, before, now, False, reason, **common)
    return Check(label, before, now, True, f"{label} {now:.2f} (baseline {before:.2f})", **common)


def _paired(
    label: str,
    before: float,
    now: float,
    setting: _Setting,
    common: dict[str, Any],
    decision: Decision,
    pair: Pair,
    epochs: dict[str, list[float]],
    members: list[str],
) -> Check:
    ci = paired_interval(*pair)
    if decision.se > 0:  # measured noise: the power of this very comparison
        common |= _power(decision.se, decision.cases, setting, epochs, members)
    paired = Difference(decision.cases, decision.mean, decision.se, ci, common.get("mde") or 0.0)
    common |= {"paired": paired, "p_value": decision.p_value, "adjusted_p": decision.adjusted_p}
    drop = -decision.mean
    where = (
        f"paired over {decision.cases} cases, 95% interval of the change "
        f"[{ci.low:+.2f}, {ci.high:+.2f}], Holm-adjusted p {decision.adjusted_p:.3g}"
    )
    if decision.regressed:
        reason = f"{label} dropped {drop:.2f} points ({before:.2f} -> {now:.2f}; {where})"
        return Check(label, before, now, False, reason, **common)
    if _hundredths(drop) > setting.max_drop:
        reason = f"{label} {-drop:+.2f}: within the noise ({where} > alpha {setting.alpha:g})"
    else:
        reason = f"{label} {now:.2f} (baseline {before:.2f}; {where})"
    return Check(label, before, now, True, reason, **common)


__all__ = [
    "BASELINE_VERSION",
    "DEFAULT_DETECT",
    "DEFAULT_MAX_DROP",
    "EXACT",
    "PAIRED",
    "Baseline",
    "BaselineError",
    "CaseChange",
    "Check",
    "GateReport",
    "changed_cases",
    "compare",
]
