"""Budgets: `latency` (seconds, the whole case or its slowest turn) and `tokens` (usage reported by
the app, summed over the turns).

    - latency: {max_s: 2.0}                # the whole case
    - latency: {max_s: 1.0, per: turn}     # every turn
    - tokens: {max_total: 4000}            # also max_prompt, max_completion
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agent_testkit.evals.graders.base import (
    GradeContext,
    Grader,
    GraderSpecError,
    Verdict,
    options,
    register,
)


@dataclass(frozen=True)
class Latency(Grader):
    max_s: float
    per_turn: bool = False
    kind = "latency"

    @classmethod
    def from_spec(cls, spec: Any) -> Latency:
        opts = options(spec, cls.kind, shorthand="max_s", known={"max_s", "per"})
        per = opts.get("per", "case")
        if per not in ("case", "turn"):
            raise GraderSpecError(f"{cls.kind}: `per` is {per!r}; use case or turn")
        return cls(float(opts["max_s"]), per_turn=per == "turn")

    def describe(self) -> str:
        return f"{self.kind} <= {self.max_s:g}s per {'turn' if self.per_turn else 'case'}"

    async def check(self, context: GradeContext) -> Verdict:
        turns = context.transcript.turns
        took = (
            max((t.latency_s for t in turns), default=0.0)
            if self.per_turn
            else sum(t.latency_s for t in turns)
        )
        what = "slowest turn" if self.per_turn else "case"
        if took <= self.max_s:
            return Verdict(1.0, f"{what} took {took:.3f}s")
        return Verdict(0.0, f"{what} took {took:.3f}s, over the budget of {self.max_s:g}s")


@dataclass(frozen=True)
class Tokens(Grader):
    max_total: int | None = None
    max_prompt: int | None = None
    max_completion: int | None = None
    kind = "tokens"

    @classmethod
    def from_spec(cls, spec: Any) -> Tokens:
        known = {"max_total", "max_prompt", "max_completion"}
        opts = options(spec, cls.kind, shorthand="max_total", known=known)
        if not any(opts.get(k) is not None for k in known):
            raise GraderSpecError(f"{cls.kind}: give max_total, max_prompt or max_completion")
        return cls(**{k: int(v) for k, v in opts.items() if v is not None})

    def describe(self) -> str:
        limits = [
            f"{name} <= {value}"
            for name, value in (
                ("total", self.max_total),
                ("prompt", self.max_prompt),
                ("completion", self.max_completion),
            )
            if value is not None
        ]
        return f"{self.kind} {', '.join(limits)}"

    async def check(self, context: GradeContext) -> Verdict:
        usage = context.transcript.usage
        spent = {
            "total": (usage.total_tokens, self.max_total),
            "prompt": (usage.prompt_tokens, self.max_prompt),
            "completion": (usage.completion_tokens, self.max_completion),
        }
        over = [
            f"{k} {v} > {limit}"
            for k, (v, limit) in spent.items()
            if limit is not None and v > limit
        ]
        if over:
            return Verdict(0.0, "over the token budget: " + ", ".join(over))
        return Verdict(1.0, f"{usage.total_tokens} tokens ({usage.prompt_tokens} prompt)")


register("latency")(Latency.from_spec)
register("tokens")(Tokens.from_spec)
