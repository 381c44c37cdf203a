"""One eval run as data: every case's result, the scores, the gate's verdict. Written as JSON (the
input of `report` and `accept`), read back the same."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent_testkit.evals.gate import Baseline, GateReport, compare
from agent_testkit.evals.scoring import CaseResult, Scores, aggregate

RESULTS_VERSION = 1


@dataclass
class EvalRun:
    results: list[CaseResult]
    scores: Scores
    gate: GateReport
    baseline: Baseline | None
    model: str = "scripted"
    started_at: str = ""
    duration_s: float = 0.0
    selection: list[str] = field(default_factory=list)

    @classmethod
    def of(
        cls,
        results: list[CaseResult],
        baseline: Baseline | None,
        *,
        max_drop: float,
        model: str,
        started_at: str = "",
        duration_s: float = 0.0,
        selection: list[str] | None = None,
    ) -> EvalRun:
        """Score the results and gate them; a filtered run (`selection`: what was asked for) is
        compared with the baseline of the same cases only."""
        ordered = sorted(results, key=lambda r: r.case_id)
        scores = aggregate(ordered)
        compared = baseline.restricted(ordered) if baseline and selection else baseline
        gate = compare(scores, compared, max_drop=max_drop)
        return cls(
            ordered, scores, gate, compared, model, started_at, duration_s, list(selection or [])
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "version": RESULTS_VERSION,
            "model": self.model,
            "started_at": self.started_at,
            "duration_s": round(self.duration_s, 3),
            "selection": self.selection,
            "scores": {"overall": self.scores.overall, "slices": self.scores.slices},
            "gate": self.gate.to_json(),
            "baseline": self.baseline.to_json() if self.baseline else None,
            "cases": [r.to_json() for r in self.results],
        }


def write_results(run: EvalRun, path: str | Path) -> Path:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(run.to_json(), indent=2, ensure_ascii=False) + "\n", "utf-8")
    return target


def load_results(
    path: str | Path, *, baseline: Baseline | None = None, max_drop: float | None = None
) -> EvalRun:
    """A results file, compared again with `baseline` (default: the one it was compared with)."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    results = [CaseResult.from_json(case) for case in data["cases"]]
    if baseline is None and data.get("baseline"):
        stored = data["baseline"]
        baseline = Baseline(
            stored["overall"], stored["slices"], stored.get("cases", {}), stored.get("model", "")
        )
    return EvalRun.of(
        results,
        baseline,
        max_drop=max_drop if max_drop is not None else data["gate"]["max_drop"],
        model=data.get("model", ""),
        started_at=data.get("started_at", ""),
        duration_s=data.get("duration_s", 0.0),
        selection=data.get("selection") or None,
    )
