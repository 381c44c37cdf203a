"""The cases whose score moved since the baseline, worst drop first: what a report lists first."""

from __future__ import annotations

from dataclasses import dataclass

from agent_testkit.evals.baseline import Baseline
from agent_testkit.evals.scoring import CaseResult, case_outcomes


def _hundredths(points: float) -> float:
    return round(points, 2)


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
