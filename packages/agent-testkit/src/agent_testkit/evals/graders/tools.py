"""`tool_called`: the agent called a tool, with arguments containing these (subset match), so many
times; and `http_status`: what the app answered a turn.

    - tool_called: create_task                                  # at least once
    - tool_called: {name: create_task, arguments: {priority: high}, count: 1}
    - tool_called: {name: update_task, count: 0}                # never
    - tool_called: {name: update_task, is_error: true}          # called, and the tool refused
    - http_status: {status: 503, error: llm_timeout}            # the last turn
    - http_status: {status: 200, turn: all}
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
from agent_testkit.evals.matching import mismatch


@dataclass(frozen=True)
class ToolCalled(Grader):
    name: str
    arguments: Any = None
    is_error: bool | None = None
    minimum: int = 1
    maximum: int | None = None
    kind = "tool_called"

    @classmethod
    def from_spec(cls, spec: Any) -> ToolCalled:
        known = {"name", "arguments", "is_error", "count", "min", "max"}
        opts = options(spec, cls.kind, shorthand="name", known=known)
        if not opts.get("name"):
            raise GraderSpecError(f"{cls.kind}: give the tool's `name`")
        if "count" in opts and ("min" in opts or "max" in opts):
            raise GraderSpecError(f"{cls.kind}: give `count`, or `min`/`max`, not both")
        count = opts.get("count")
        minimum = int(count if count is not None else opts.get("min", 1))
        maximum = count if count is not None else opts.get("max")
        is_error = opts.get("is_error")
        return cls(
            str(opts["name"]),
            arguments=opts.get("arguments"),
            is_error=None if is_error is None else bool(is_error),
            minimum=minimum,
            maximum=None if maximum is None else int(maximum),
        )

    def _times(self) -> str:
        if self.maximum == self.minimum:
            return "never" if self.minimum == 0 else f"{self.minimum}x"
        return f">={self.minimum}x" + (f" <={self.maximum}x" if self.maximum is not None else "")

    def describe(self) -> str:
        args = f" with {self.arguments!r}" if self.arguments else ""
        error = {True: " (refused)", False: " (succeeded)", None: ""}[self.is_error]
        return f"{self.kind} {self.name}{args}{error} {self._times()}"

    async def check(self, context: GradeContext) -> Verdict:
        calls = context.transcript.tool_calls
        named = [c for c in calls if c.name == self.name]
        reasons: list[str] = []
        matching = 0
        for call in named:
            why = None
            if self.arguments is not None:
                why = mismatch(self.arguments, call.arguments, "arguments")
            if why is None and self.is_error is not None and call.is_error != self.is_error:
                why = f"is_error is {call.is_error}"
            if why is None:
                matching += 1
            else:
                reasons.append(why)
        too_few = matching < self.minimum
        too_many = self.maximum is not None and matching > self.maximum
        if not (too_few or too_many):
            return Verdict(1.0, f"{self.name} called {matching}x as expected")
        seen = ", ".join(c.name for c in calls) or "none"
        detail = f"; closest: {reasons[0]}" if reasons and too_few else ""
        return Verdict(
            0.0,
            f"{self.name} matched {matching}x, expected {self._times()} (tools called: {seen}){detail}",
        )


@dataclass(frozen=True)
class HttpStatus(Grader):
    status: int
    error: str | None = None
    turn: int | None = -1  # None: every turn
    kind = "http_status"

    @classmethod
    def from_spec(cls, spec: Any) -> HttpStatus:
        opts = options(spec, cls.kind, shorthand="status", known={"status", "error", "turn"})
        turn = opts.get("turn", -1)
        error = opts.get("error")
        return cls(
            int(opts["status"]),
            error=str(error) if error else None,
            turn=None if turn == "all" else int(turn),
        )

    def describe(self) -> str:
        which = "every turn" if self.turn is None else f"turn {self.turn}"
        return f"{self.kind} {self.status}{f' {self.error}' if self.error else ''} on {which}"

    async def check(self, context: GradeContext) -> Verdict:
        turns = context.transcript.turns
        if not turns:
            return Verdict(0.0, "no turn was sent")
        try:
            chosen = turns if self.turn is None else [turns[self.turn]]
        except IndexError:
            return Verdict(0.0, f"there is no turn {self.turn} ({len(turns)} turns)")
        for turn in chosen:
            if turn.status_code != self.status or (self.error and turn.error != self.error):
                got = f"{turn.status_code}{f' {turn.error}' if turn.error else ''}"
                return Verdict(
                    0.0, f"answered {got} to {turn.message!r}: {turn.detail or ''}".strip()
                )
        return Verdict(1.0, f"answered {self.status}{f' {self.error}' if self.error else ''}")


register("tool_called")(ToolCalled.from_spec)
register("http_status")(HttpStatus.from_spec)
