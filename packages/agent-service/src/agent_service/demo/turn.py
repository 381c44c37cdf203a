"""The current turn of a chat request: the user's last message and the tool steps taken since."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


def text_of(content: Any) -> str:
    """A message's text: a string, or the text parts of a list of content parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


@dataclass
class Step:
    """One tool call of this turn and its result (parsed JSON when it is JSON)."""

    name: str
    arguments: dict[str, Any]
    result: Any = None

    @property
    def failed(self) -> bool:
        return isinstance(self.result, dict) and "error" in self.result


@dataclass
class Turn:
    user_text: str
    steps: list[Step] = field(default_factory=list)
    first: bool = False  # the conversation's first user message: the answer says what it is

    @classmethod
    def of(cls, messages: list[dict[str, Any]]) -> Turn:
        """Read the messages after the last user message: the tool calls and their results."""
        last_user = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=-1)
        user_text = text_of(messages[last_user].get("content")) if last_user >= 0 else ""
        steps: dict[str, Step] = {}
        for message in messages[last_user + 1 :]:
            for call in message.get("tool_calls") or []:
                function = call.get("function") or {}
                steps[call.get("id", "")] = Step(function.get("name", ""), _json(function))
            if message.get("role") == "tool" and message.get("tool_call_id") in steps:
                steps[message["tool_call_id"]].result = _parse(text_of(message.get("content")))
        users = sum(1 for m in messages if m.get("role") == "user")
        return cls(user_text.strip(), list(steps.values()), first=users == 1)

    def steps_of(self, name: str) -> list[Step]:
        return [step for step in self.steps if step.name == name and step.result is not None]

    def results(self, name: str) -> list[dict[str, Any]]:
        """The successful results of `name`'s calls, oldest first."""
        return [
            s.result for s in self.steps_of(name) if isinstance(s.result, dict) and not s.failed
        ]

    @property
    def last_failure(self) -> str | None:
        """The detail of the newest tool result, when it is an error."""
        answered = [step for step in self.steps if step.result is not None]
        if not answered or not answered[-1].failed:
            return None
        result = answered[-1].result
        return str(result.get("detail") or result.get("error"))


def _json(function: dict[str, Any]) -> dict[str, Any]:
    parsed = _parse(function.get("arguments") or "{}")
    return parsed if isinstance(parsed, dict) else {}


def _parse(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text
