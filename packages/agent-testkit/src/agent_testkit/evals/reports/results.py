"""One eval run as data: every attempt's result (each case times its epochs), the scores with their
intervals, the gate's verdict. Written as JSON (the input of `report` and `accept`), read back the
same.

Which gate rule applies follows from how the run was made: a scripted run without variation is
deterministic (the exact rule); anything else (live, replay, scripted with `variation`) is compared
per case with intervals (the paired rule)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent_testkit.evals.gate import Baseline, GateReport, compare
from agent_testkit.evals.judge_check import JudgeCheck
from agent_testkit.evals.scoring import CaseOutcome, CaseResult, Scores, aggregate, case_outcomes
from agent_testkit.evals.spend import Prices, RunSpend, run_spend

RESULTS_VERSION = 2


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
    epochs: int = 1
    variation: float = 0.0
    seed: int = 0
    judge: dict[str, str] = field(default_factory=dict)  # the judge's model and prompt
    prices: Prices = field(default_factory=Prices)  # USD per million tokens, for the costs

    @property
    def spend(self) -> RunSpend:
        """The agent's tokens (and cost, with prices) overall, per slice and per case."""
        return run_spend(self.results, self.prices)

    @property
    def exact(self) -> bool:
        """Deterministic: every score is exact, so the gate compares them as they are."""
        return is_exact(self.model, self.variation)

    @property
    def outcomes(self) -> list[CaseOutcome]:
        """The results per case, over their epochs."""
        return case_outcomes(self.results)

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
        epochs: int = 1,
        variation: float = 0.0,
        seed: int = 0,
        judge: dict[str, str] | None = None,
        judge_check: JudgeCheck | None = None,
        prices: Prices | None = None,
    ) -> EvalRun:
        """Score the results and gate them; a filtered run (`selection`: what was asked for) is
        compared with the baseline of the same cases only."""
        ordered = sorted(results, key=lambda r: (r.case_id, r.epoch))
        scores = aggregate(ordered, seed=seed)
        compared = baseline.restricted(ordered) if baseline and selection else baseline
        if compared is not None and selection and not compared.cases:
            compared = None  # none of the selected cases is in the baseline: nothing to compare
        gate = compare(
            scores,
            compared,
            max_drop=max_drop,
            exact=is_exact(model, variation),
            judge=judge_check,
        )
        return cls(
            ordered,
            scores,
            gate,
            compared,
            model,
            started_at,
            duration_s,
            list(selection or []),
            epochs,
            variation,
            seed,
            dict(judge or {}),
            prices or Prices(),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "version": RESULTS_VERSION,
            "model": self.model,
            "started_at": self.started_at,
            "duration_s": round(self.duration_s, 3),
            "selection": self.selection,
            "epochs": self.epochs,
            "variation": self.variation,
            "seed": self.seed,
            "judge": self.judge,
            "prices": self.prices.to_json(),
            "spend": self.spend.to_json(),
            "scores": {
                "overall": self.scores.overall,
                "slices": self.scores.slices,
                "intervals": self.scores.to_json()["intervals"],
            },
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
        baseline = Baseline.from_json(data["baseline"])
    judged = data["gate"].get("judge")
    return EvalRun.of(
        results,
        baseline,
        max_drop=max_drop if max_drop is not None else data["gate"]["max_drop"],
        model=data.get("model", ""),
        started_at=data.get("started_at", ""),
        duration_s=data.get("duration_s", 0.0),
        selection=data.get("selection") or None,
        epochs=int(data.get("epochs", 1)),
        variation=float(data.get("variation", 0.0)),
        seed=int(data.get("seed", 0)),
        judge=data.get("judge") or {},
        judge_check=JudgeCheck.from_json(judged) if judged else None,
        prices=Prices.from_json(data.get("prices")),
    )


def is_exact(model: str, variation: float) -> bool:
    """A scripted run without variation is deterministic."""
    return model == "scripted" and variation == 0
