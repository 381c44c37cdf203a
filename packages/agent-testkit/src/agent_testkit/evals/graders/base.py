"""What every grader shares: the context it reads, the result it gives, and the registry that builds a
grader from a case's expectation (`{contains: "Done"}`, `{tool_called: {name: create_task}}`, ...)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any, ClassVar

import httpx

from agent_testkit.evals.transcript import Transcript, Usage

if TYPE_CHECKING:
    from agent_testkit.evals.graders.judge import LLMJudge


class GraderSpecError(ValueError):
    """An expectation a grader cannot be built from; the message says what was expected."""


@dataclass(frozen=True)
class Verdict:
    """A grader's answer: a score in 0..1 and, above all when it is below 1, why."""

    score: float
    reason: str
    usage: Usage | None = None  # tokens the grader itself spent (the judge's call)


@dataclass(frozen=True)
class GraderResult:
    kind: str
    name: str
    weight: float
    score: float
    passed: bool
    reason: str
    usage: Usage | None = None  # tokens the grader itself spent (the judge's call)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "weight": self.weight,
            "score": round(self.score, 4),
            "passed": self.passed,
            "reason": self.reason,
            **({"usage": asdict(self.usage)} if self.usage is not None else {}),
        }


@dataclass
class GradeContext:
    """What graders read: the transcript, HTTP clients of the app (by role: "user", "other", ...,
    already authenticated), and the judge for `llm_judge`."""

    transcript: Transcript
    clients: Mapping[str, httpx.AsyncClient] = field(default_factory=dict)
    judge: LLMJudge | None = None


class Grader:
    """A grader built from one expectation; subclasses set `kind` and implement `check`."""

    kind: ClassVar[str]
    pass_score: float = 1.0

    def describe(self) -> str:
        """A short label for reports, e.g. `contains 'Done'`."""
        return self.kind

    async def check(self, context: GradeContext) -> Verdict:
        raise NotImplementedError

    async def grade(self, context: GradeContext, *, weight: float = 1.0) -> GraderResult:
        """`check`, with an exception inside it turned into a failure that names it."""
        try:
            verdict = await self.check(context)
        except Exception as exc:
            verdict = Verdict(0.0, f"the grader failed: {exc!r}")
        score = min(1.0, max(0.0, verdict.score))
        return GraderResult(
            self.kind,
            self.describe(),
            weight,
            score,
            score >= self.pass_score,
            verdict.reason,
            verdict.usage,
        )


GraderFactory = Callable[[Any], Grader]
REGISTRY: dict[str, GraderFactory] = {}


def register(kind: str) -> Callable[[GraderFactory], GraderFactory]:
    """Make `kind` usable in case files, built by `factory(spec)`."""

    def add(factory: GraderFactory) -> GraderFactory:
        REGISTRY[kind] = factory
        return factory

    return add


WHOLE_CASE_KINDS = {"http_status", "state", "latency"}  # they have their own notion of turns


def build_grader(kind: str, spec: Any) -> Grader:
    """The grader for one expectation; GraderSpecError names the known kinds or the bad field.

    Graders of the conversation take `turn: N` (0 the first, -1 the last) to look at one turn only.
    """
    factory = REGISTRY.get(kind)
    if factory is None:
        raise GraderSpecError(f"unknown grader {kind!r}; known: {', '.join(sorted(REGISTRY))}")
    if isinstance(spec, Mapping) and "turn" in spec and kind not in WHOLE_CASE_KINDS:
        rest = {k: v for k, v in spec.items() if k != "turn"}
        turn = spec["turn"]
        if isinstance(turn, bool) or not isinstance(turn, int):
            raise GraderSpecError(f"{kind}: `turn` must be an index like 0 or -1, got {turn!r}")
        return OnTurn(factory(rest), turn)
    return factory(spec)


@dataclass(frozen=True)
class OnTurn(Grader):
    """Another grader, looking at one turn of the conversation only."""

    inner: Grader
    turn: int

    @property
    def kind(self) -> str:  # type: ignore[override]
        return self.inner.kind

    @property
    def pass_score(self) -> float:  # type: ignore[override]
        return self.inner.pass_score

    def describe(self) -> str:
        return f"{self.inner.describe()} on turn {self.turn}"

    async def check(self, context: GradeContext) -> Verdict:
        try:
            transcript = context.transcript.only_turn(self.turn)
        except IndexError:
            return Verdict(
                0.0, f"there is no turn {self.turn} ({len(context.transcript.turns)} turns)"
            )
        return await self.inner.check(replace(context, transcript=transcript))


def options(spec: Any, kind: str, *, shorthand: str, known: set[str]) -> dict[str, Any]:
    """A grader's options: a mapping, or a bare value standing for its `shorthand` option."""
    if not isinstance(spec, Mapping):
        return {shorthand: spec}
    unknown = set(spec) - known
    if unknown:
        raise GraderSpecError(
            f"{kind}: unknown option(s) {sorted(unknown)}; known: {', '.join(sorted(known))}"
        )
    return dict(spec)


def short(text: str, limit: int = 160) -> str:
    """`text` on one line, cut to `limit` characters, for reasons."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
