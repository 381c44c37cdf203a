"""Text graders: `contains`, `not_contains` and `regex`, over the reply or any other part of the
transcript (`in: reply | replies | tool_arguments | tool_results | errors | all`).

    - contains: "Renew passport"                         # the last reply, case-insensitive
    - contains: {any_of: ["I can't", "I cannot"], in: replies}
    - not_contains: {text: PINEAPPLE-42, in: all}
    - regex: {pattern: "P[0-3]", in: reply}
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from agent_testkit.evals.graders.base import (
    GradeContext,
    Grader,
    GraderSpecError,
    Verdict,
    options,
    register,
    short,
)
from agent_testkit.evals.transcript import TEXT_TARGETS

_KNOWN = {"text", "any_of", "all_of", "in", "case_sensitive"}


def _target(value: Any, kind: str) -> str:
    where = str(value)
    if where not in TEXT_TARGETS:
        raise GraderSpecError(f"{kind}: `in` is {where!r}; use one of {', '.join(TEXT_TARGETS)}")
    return where


def _strings(value: Any, kind: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, Sequence) and value and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise GraderSpecError(f"{kind}: expected a string or a list of strings, got {value!r}")


@dataclass(frozen=True)
class Contains(Grader):
    """Passes when the text holds every string of `all_of` (or `text`) or one of `any_of`."""

    needles: tuple[str, ...]
    any_of: bool = False
    where: str = "reply"
    case_sensitive: bool = False
    kind = "contains"

    @classmethod
    def from_spec(cls, spec: Any) -> Contains:
        opts = options(spec, cls.kind, shorthand="all_of", known=_KNOWN)
        chosen = [k for k in ("text", "any_of", "all_of") if k in opts]
        if len(chosen) != 1:
            raise GraderSpecError(f"{cls.kind}: give one of text, any_of or all_of")
        return cls(
            _strings(opts[chosen[0]], cls.kind),
            any_of=chosen[0] == "any_of",
            where=_target(opts.get("in", "reply"), cls.kind),
            case_sensitive=bool(opts.get("case_sensitive", False)),
        )

    def describe(self) -> str:
        joined = " or ".join if self.any_of else " and ".join
        return f"{self.kind} {joined(repr(n) for n in self.needles)} in {self.where}"

    def _found(self, text: str) -> list[str]:
        haystack = text if self.case_sensitive else text.lower()
        return [n for n in self.needles if (n if self.case_sensitive else n.lower()) in haystack]

    async def check(self, context: GradeContext) -> Verdict:
        text = context.transcript.text(self.where)
        found = self._found(text)
        ok = bool(found) if self.any_of else len(found) == len(self.needles)
        if ok:
            return Verdict(1.0, f"found {', '.join(repr(f) for f in found)}")
        missing = [n for n in self.needles if n not in found]
        return Verdict(0.0, f"{self.where} lacks {', '.join(map(repr, missing))}: {short(text)!r}")


@dataclass(frozen=True)
class NotContains(Contains):
    """Passes when none of the strings appears (a leaked secret, an injected instruction)."""

    kind = "not_contains"

    @classmethod
    def from_spec(cls, spec: Any) -> NotContains:
        opts = options(spec, cls.kind, shorthand="any_of", known=_KNOWN - {"all_of"})
        needles = opts.get("any_of", opts.get("text"))
        if needles is None:
            raise GraderSpecError(f"{cls.kind}: give text or any_of")
        return cls(
            _strings(needles, cls.kind),
            any_of=True,
            where=_target(opts.get("in", "reply"), cls.kind),
            case_sensitive=bool(opts.get("case_sensitive", False)),
        )

    def describe(self) -> str:
        return f"{self.kind} {', '.join(repr(n) for n in self.needles)} in {self.where}"

    async def check(self, context: GradeContext) -> Verdict:
        text = context.transcript.text(self.where)
        found = self._found(text)
        if not found:
            return Verdict(1.0, f"none of {len(self.needles)} string(s) in {self.where}")
        first = found[0]
        at = text.lower().find(first.lower())
        excerpt = text[max(0, at - 60) : at + len(first) + 60]
        return Verdict(0.0, f"{self.where} contains {first!r}: …{short(excerpt)}…")


@dataclass(frozen=True)
class Regex(Grader):
    """Passes when `pattern` (Python `re`, searched) matches the text."""

    pattern: str
    where: str = "reply"
    kind = "regex"

    @classmethod
    def from_spec(cls, spec: Any) -> Regex:
        opts = options(spec, cls.kind, shorthand="pattern", known={"pattern", "in"})
        pattern = str(opts.get("pattern", ""))
        try:
            re.compile(pattern)
        except re.error as exc:
            raise GraderSpecError(f"{cls.kind}: {pattern!r} is not a valid pattern: {exc}") from exc
        return cls(pattern, where=_target(opts.get("in", "reply"), cls.kind))

    def describe(self) -> str:
        return f"{self.kind} /{self.pattern}/ in {self.where}"

    async def check(self, context: GradeContext) -> Verdict:
        text = context.transcript.text(self.where)
        match = re.search(self.pattern, text)
        if match:
            return Verdict(1.0, f"matched {match.group(0)!r}")
        return Verdict(0.0, f"no match for /{self.pattern}/ in {self.where}: {short(text)!r}")


register("contains")(Contains.from_spec)
register("not_contains")(NotContains.from_spec)
register("regex")(Regex.from_spec)
