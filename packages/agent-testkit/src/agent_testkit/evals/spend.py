"""What a run cost: the agent's tokens (as the app under test reported them per turn) per case and per
slice, and their price when the run was given one (USD per million prompt and completion tokens:
`--input-price`, `--output-price`). A case's figures are over all its epochs, with the mean per
attempt beside them, so runs with different epochs compare. The judge's calls (`llm_judge`) are
counted apart, as its API reported them, and priced the same (one price for the run's model).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from agent_testkit.evals.scoring import CaseResult
from agent_testkit.evals.transcript import Usage

MILLION = 1_000_000


@dataclass(frozen=True)
class Prices:
    """USD per million tokens; 0 and 0: no price given, costs are not shown."""

    prompt: float = 0.0
    completion: float = 0.0

    @property
    def known(self) -> bool:
        return self.prompt > 0 or self.completion > 0

    def cost(self, usage: Usage) -> float:
        return (
            usage.prompt_tokens * self.prompt + usage.completion_tokens * self.completion
        ) / MILLION

    def to_json(self) -> dict[str, float]:
        return {"prompt_per_million": self.prompt, "completion_per_million": self.completion}

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Prices:
        data = data or {}
        return cls(
            float(data.get("prompt_per_million", 0.0)),
            float(data.get("completion_per_million", 0.0)),
        )


@dataclass(frozen=True)
class Spend:
    """The tokens (and cost) of a case or a slice over `attempts` attempts."""

    name: str
    attempts: int
    usage: Usage  # the agent's
    cost: float | None  # None: no prices; else the agent's and the judge's tokens
    judge: Usage = field(default_factory=Usage)  # the judge's calls

    @property
    def tokens_per_attempt(self) -> float:
        return self.usage.total_tokens / self.attempts if self.attempts else 0.0

    @property
    def cost_per_attempt(self) -> float | None:
        return None if self.cost is None or not self.attempts else self.cost / self.attempts

    def to_json(self) -> dict[str, Any]:
        return {
            "attempts": self.attempts,
            "prompt_tokens": self.usage.prompt_tokens,
            "completion_tokens": self.usage.completion_tokens,
            "total_tokens": self.usage.total_tokens,
            "judge_tokens": self.judge.total_tokens,
            "tokens_per_attempt": round(self.tokens_per_attempt, 1),
            "cost_usd": None if self.cost is None else round(self.cost, 6),
            "cost_per_attempt_usd": None
            if self.cost_per_attempt is None
            else round(self.cost_per_attempt, 6),
        }


def attempt_usage(result: CaseResult) -> Usage:
    """The agent's tokens in one attempt, summed over its turns."""
    total = Usage()
    for turn in (result.transcript or {}).get("turns") or []:
        used = turn.get("usage") or {}
        total = total + Usage(
            int(used.get("prompt_tokens", 0)),
            int(used.get("completion_tokens", 0)),
            int(used.get("total_tokens", 0)),
        )
    return total


def judge_usage(result: CaseResult) -> Usage:
    """The tokens the graders spent on one attempt (the judge's calls)."""
    total = Usage()
    for grader in result.graders:
        if grader.usage is not None:
            total = total + grader.usage
    return total


def _spend(name: str, results: Sequence[CaseResult], prices: Prices) -> Spend:
    usage, judge = Usage(), Usage()
    for result in results:
        usage, judge = usage + attempt_usage(result), judge + judge_usage(result)
    cost = prices.cost(usage) + prices.cost(judge) if prices.known else None
    return Spend(name, len(results), usage, cost, judge)


def _grouped(results: Iterable[CaseResult], key: str) -> dict[str, list[CaseResult]]:
    groups: dict[str, list[CaseResult]] = {}
    for result in results:
        for name in (result.case_id,) if key == "case" else result.tags:
            groups.setdefault(name, []).append(result)
    return groups


@dataclass(frozen=True)
class RunSpend:
    overall: Spend
    slices: list[Spend]
    cases: list[Spend]

    def to_json(self) -> dict[str, Any]:
        return {
            "overall": self.overall.to_json(),
            "slices": {s.name: s.to_json() for s in self.slices},
            "cases": {s.name: s.to_json() for s in self.cases},
        }


def run_spend(results: Sequence[CaseResult], prices: Prices) -> RunSpend:
    """The run's tokens and cost: overall, per slice (a case in two slices counts in both), per
    case."""
    return RunSpend(
        _spend("overall", results, prices),
        [_spend(n, rs, prices) for n, rs in sorted(_grouped(results, "tag").items())],
        [_spend(n, rs, prices) for n, rs in sorted(_grouped(results, "case").items())],
    )


__all__ = ["Prices", "RunSpend", "Spend", "attempt_usage", "judge_usage", "run_spend"]
