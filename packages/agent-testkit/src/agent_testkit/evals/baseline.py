"""The committed baseline a run is gated against: per-case scores (and, with epochs, each epoch's),
no timestamps, so accepting an unchanged run changes nothing."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent_testkit.evals.scoring import CaseResult, Scores, aggregate, case_outcomes

BASELINE_VERSION = 2


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
