"""What one case's run produced, as graders see it: each user turn with the app's answer, the tool
calls it made, the tokens it spent and how long it took. The app under test fills it in; graders
only read it."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class ToolCallRecord:
    """One tool call of the agent, with what the tool answered (`is_error`: the tool refused)."""

    name: str
    arguments: Any
    result: Any
    is_error: bool = False


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.total_tokens + other.total_tokens,
        )


@dataclass
class Turn:
    """One user message and the app's answer: a reply, or an HTTP error (`error` is its code)."""

    message: str
    status_code: int
    reply: str | None = None
    error: str | None = None
    detail: str | None = None
    tool_calls: list[ToolCallRecord] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    latency_s: float = 0.0
    body: Any = None


@dataclass
class Transcript:
    """Every turn of a case, plus what went wrong around them (`problems`: setup, script, harness)."""

    turns: list[Turn] = field(default_factory=list)
    llm_calls: int = 0
    problems: list[str] = field(default_factory=list)
    variables: dict[str, str] = field(default_factory=dict)

    @property
    def reply(self) -> str:
        """The last turn's reply ("" when it failed)."""
        return (self.turns[-1].reply or "") if self.turns else ""

    @property
    def replies(self) -> list[str]:
        return [turn.reply for turn in self.turns if turn.reply is not None]

    @property
    def tool_calls(self) -> list[ToolCallRecord]:
        return [call for turn in self.turns for call in turn.tool_calls]

    @property
    def usage(self) -> Usage:
        total = Usage()
        for turn in self.turns:
            total = total + turn.usage
        return total

    @property
    def latency_s(self) -> float:
        return sum(turn.latency_s for turn in self.turns)

    def text(self, where: str) -> str:
        """The text a text grader searches: `reply`, `replies`, `tool_arguments`, `tool_results`,
        `errors` or `all` (everything the user or the model could see)."""
        parts: dict[str, list[str]] = {
            "reply": [self.reply],
            "replies": self.replies,
            "tool_arguments": [_as_text(c.arguments) for c in self.tool_calls],
            "tool_results": [_as_text(c.result) for c in self.tool_calls],
            "errors": [f"{t.error}: {t.detail}" for t in self.turns if t.error],
        }
        if where == "all":
            return "\n".join(
                text
                for key in ("replies", "tool_arguments", "tool_results", "errors")
                for text in parts[key]
            )
        if where not in parts:
            raise ValueError(f"unknown text target {where!r}; use one of {[*parts, 'all']}")
        return "\n".join(parts[where])

    def only_turn(self, index: int) -> Transcript:
        """The same transcript with only turn `index` (negative counts from the end); IndexError if
        there is no such turn."""
        return Transcript([self.turns[index]], self.llm_calls, self.problems, self.variables)

    def to_json(self) -> dict[str, Any]:
        """Everything but the raw response bodies, for results files."""
        data = asdict(self)
        for turn in data["turns"]:
            turn.pop("body", None)
        return data


TEXT_TARGETS = ("reply", "replies", "tool_arguments", "tool_results", "errors", "all")


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
