"""Scores, in points out of 100: an attempt's is the weighted mean of its graders' scores (0 when the
run itself went wrong); a case's is the mean over its epochs (attempts); a slice's is the mean over
the cases tagged with it; the overall is the mean over all cases. Rounded to two decimals, so a
report and the gate see the same numbers. Each slice and the overall also get a 95% interval,
Wilson's over the cases (a case's epochs stay together; see `intervals`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from agent_testkit.evals.cases import Case
from agent_testkit.evals.graders import GradeContext, GraderResult
from agent_testkit.evals.intervals import score_interval
from agent_testkit.evals.scripts import PlaceholderError
from agent_testkit.evals.stats import Interval
from agent_testkit.evals.transcript import Usage


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
    epoch: int = 0  # which attempt of the case (0 .. epochs - 1)
    known_weakness: str = ""  # why the case is expected to lose points (from the case file)

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
            "epoch": self.epoch,
            "known_weakness": self.known_weakness,
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
                    g["kind"],
                    g["name"],
                    g["weight"],
                    g["score"],
                    g["passed"],
                    g["reason"],
                    Usage(**g["usage"]) if g.get("usage") else None,
                )
                for g in data.get("graders", [])
            ],
            problems=list(data.get("problems", [])),
            duration_s=float(data.get("duration_s", 0.0)),
            transcript=data.get("transcript"),
            description=data.get("description", ""),
            epoch=int(data.get("epoch", 0)),
            known_weakness=data.get("known_weakness", ""),
        )


@dataclass(frozen=True)
class Scores:
    """The run's scores: per case (mean over its epochs), per slice, overall; every epoch's score
    per case; each case's tags; the 95% intervals of the overall score and of each slice."""

    overall: float
    slices: dict[str, float]
    cases: dict[str, float]
    epochs: dict[str, list[float]] = field(default_factory=dict)
    tags: dict[str, tuple[str, ...]] = field(default_factory=dict)
    overall_interval: Interval | None = None
    slice_intervals: dict[str, Interval] = field(default_factory=dict)

    def interval(self, name: str) -> Interval | None:
        """The interval of `overall` or of a slice."""
        return self.overall_interval if name == "overall" else self.slice_intervals.get(name)

    def slice_cases(self, name: str) -> list[str]:
        """The ids of the cases of `overall` or of a slice."""
        return [c for c in self.cases if name == "overall" or name in self.tags.get(c, ())]

    def to_json(self) -> dict[str, Any]:
        return {
            "overall": self.overall,
            "slices": self.slices,
            "intervals": {
                "overall": self.overall_interval.to_json() if self.overall_interval else None,
                **{k: v.to_json() for k, v in self.slice_intervals.items()},
            },
            "cases": self.cases,
        }


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


def aggregate(results: Iterable[CaseResult], *, seed: int = 0) -> Scores:
    """Per-case means over epochs, then slice and overall means over cases, with their intervals."""
    epochs: dict[str, list[float]] = {}
    tags: dict[str, tuple[str, ...]] = {}
    for result in sorted(results, key=lambda r: (r.case_id, r.epoch)):
        epochs.setdefault(result.case_id, []).append(result.score)
        tags[result.case_id] = result.tags
    cases = {case_id: _mean(scores) for case_id, scores in epochs.items()}
    by_slice: dict[str, list[float]] = {}
    for case_id, score in cases.items():
        for tag in tags[case_id]:
            by_slice.setdefault(tag, []).append(score)
    return Scores(
        overall=_mean(list(cases.values())),
        slices={tag: _mean(scores) for tag, scores in sorted(by_slice.items())},
        cases=cases,
        epochs=epochs,
        tags=tags,
        overall_interval=_interval(list(cases.values())),
        slice_intervals={tag: _interval(scores) for tag, scores in sorted(by_slice.items())},
    )


def _interval(values: list[float]) -> Interval:
    found = score_interval(values)
    return Interval(round(found.low, 2), round(found.high, 2))


def _mean(values: Sequence[float]) -> float:
    return round(sum(values) / len(values), 2) if values else 0.0


@dataclass(frozen=True)
class CaseOutcome:
    """A case over all its epochs: the mean score, and the attempts (worst first for reasons)."""

    case_id: str
    tags: tuple[str, ...]
    description: str
    known_weakness: str
    score: float
    attempts: tuple[CaseResult, ...]

    @property
    def passed(self) -> bool:
        return all(a.passed for a in self.attempts)

    @property
    def worst(self) -> CaseResult:
        return min(self.attempts, key=lambda a: (a.score, a.epoch))

    @property
    def reason(self) -> str:
        """Why the case lost points (in its worst attempt), and in how many attempts it did."""
        worst = self.worst
        if not worst.reason or len(self.attempts) == 1:
            return worst.reason
        below = sum(1 for a in self.attempts if not a.passed or a.score < 100)
        return f"{below}/{len(self.attempts)} epochs below 100; worst: {worst.reason}"

    @property
    def epoch_scores(self) -> list[float]:
        return [a.score for a in self.attempts]


def case_outcomes(results: Iterable[CaseResult]) -> list[CaseOutcome]:
    """The results grouped by case (sorted by id), epochs in order."""
    grouped: dict[str, list[CaseResult]] = {}
    for result in sorted(results, key=lambda r: (r.case_id, r.epoch)):
        grouped.setdefault(result.case_id, []).append(result)
    return [
        CaseOutcome(
            case_id,
            attempts[0].tags,
            attempts[0].description,
            attempts[0].known_weakness,
            _mean([a.score for a in attempts]),
            tuple(attempts),
        )
        for case_id, attempts in grouped.items()
    ]
