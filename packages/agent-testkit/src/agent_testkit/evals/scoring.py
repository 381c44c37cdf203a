"""Scores, in points out of 100: a case's is the weighted mean of its graders' scores (0 when the run
itself went wrong); a slice's is the mean over the cases tagged with it; the overall is the mean over
all cases. Rounded to two decimals, so a report and the gate see the same numbers."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from agent_testkit.evals.cases import Case
from agent_testkit.evals.graders import GradeContext, GraderResult
from agent_testkit.evals.scripts import PlaceholderError


@dataclass
class CaseResult:
    case_id: str
    tags: tuple[str, ...]
    agent: str
    score: float
    graders: list[GraderResult] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    duration_s: float = 0.0
    transcript: dict[str, Any] | None = None
    description: str = ""

    @property
    def passed(self) -> bool:
        return not self.problems and all(g.passed for g in self.graders)

    @property
    def reason(self) -> str:
        """Why the case lost points: its first problem, its first failing grader's reason, or the
        reason of the grader that gave the least (a judge's partial score)."""
        if self.problems:
            return self.problems[0]
        failing = next((g for g in self.graders if not g.passed), None)
        if failing is None:
            failing = min(
                (g for g in self.graders if g.score < 1), key=lambda g: g.score, default=None
            )
        return f"{failing.name}: {failing.reason}" if failing else ""

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.case_id,
            "tags": list(self.tags),
            "agent": self.agent,
            "description": self.description,
            "score": self.score,
            "passed": self.passed,
            "reason": self.reason,
            "duration_s": round(self.duration_s, 4),
            "graders": [g.to_json() for g in self.graders],
            "problems": self.problems,
            "transcript": self.transcript,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CaseResult:
        return cls(
            case_id=data["id"],
            tags=tuple(data["tags"]),
            agent=data.get("agent", ""),
            score=float(data["score"]),
            graders=[
                GraderResult(
                    g["kind"], g["name"], g["weight"], g["score"], g["passed"], g["reason"]
                )
                for g in data.get("graders", [])
            ],
            problems=list(data.get("problems", [])),
            duration_s=float(data.get("duration_s", 0.0)),
            transcript=data.get("transcript"),
            description=data.get("description", ""),
        )


@dataclass(frozen=True)
class Scores:
    overall: float
    slices: dict[str, float]
    cases: dict[str, float]

    def to_json(self) -> dict[str, Any]:
        return {"overall": self.overall, "slices": self.slices, "cases": self.cases}


def case_score(graders: Sequence[GraderResult], problems: Sequence[str]) -> float:
    total = sum(g.weight for g in graders)
    if problems or not total:
        return 0.0
    return round(100 * sum(g.weight * g.score for g in graders) / total, 2)


async def grade_case(
    case: Case, context: GradeContext, *, variables: dict[str, str]
) -> tuple[list[GraderResult], list[str]]:
    """Run a case's graders in order; a spec whose placeholders have no value is a problem."""
    results: list[GraderResult] = []
    problems: list[str] = []
    for expectation in case.expect:
        try:
            grader = expectation.grader(variables)
        except PlaceholderError as exc:
            problems.append(f"expectation {expectation.kind}: {exc}")
            continue
        results.append(await grader.grade(context, weight=expectation.weight))
    return results, problems


def aggregate(results: Iterable[CaseResult]) -> Scores:
    results = list(results)
    by_slice: dict[str, list[float]] = {}
    for result in results:
        for tag in result.tags:
            by_slice.setdefault(tag, []).append(result.score)
    return Scores(
        overall=_mean([r.score for r in results]),
        slices={tag: _mean(scores) for tag, scores in sorted(by_slice.items())},
        cases={r.case_id: r.score for r in sorted(results, key=lambda r: r.case_id)},
    )


def _mean(values: Sequence[float]) -> float:
    return round(sum(values) / len(values), 2) if values else 0.0
