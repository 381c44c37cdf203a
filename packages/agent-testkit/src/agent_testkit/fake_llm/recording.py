"""What the app sent to the fake LLM, parsed once, so tests assert on chat turns instead of JSON bytes.

Whatever the wire format (Chat Completions, Responses, Anthropic Messages), `messages` and `tools` read
in the chat-completions shape (see `normalize`); `request` keeps the body as sent.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from agent_testkit.fake_llm import gemini_requests, normalize
from agent_testkit.fake_llm.normalize import Api, content_text
from agent_testkit.fake_llm.script import ScriptItem

__all__ = ["RecordedCall", "content_text"]


@dataclass
class RecordedCall:
    """One model request the fake received (`calls[i]`), and the script item that answered it.

    `api` is the wire format ("chat", "responses", "messages" or "gemini"); `history` is what a Responses API
    `previous_response_id` stood for (the stored conversation before this request's `input`).
    """

    index: int
    request: dict[str, Any]
    path: str = "/v1/chat/completions"
    headers: dict[str, str] = field(default_factory=dict)
    item: ScriptItem | None = None
    api: Api = "chat"
    history: list[dict[str, Any]] = field(default_factory=list)

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The whole conversation the model sees, chat-shaped, whatever the wire format.

        With `previous_response_id`, this request's `instructions` come first, then the stored
        conversation (which never holds the earlier requests' instructions), then this `input`.
        """
        if self.api == "responses" and self.history:
            return [
                *normalize.response_instructions(self.request),
                *self.history,
                *normalize.response_input(self.request),
            ]
        return [*self.history, *normalize.messages(self.api, self.request)]

    @property
    def number(self) -> int:
        """This call's place among the calls, from 1, as every message of the kit counts them."""
        return self.index + 1

    @property
    def model(self) -> str | None:
        if self.api == "gemini":  # Gemini names the model in the path
            return gemini_requests.model_of(self.path)
        return self.request.get("model")

    @property
    def stream(self) -> bool:
        if self.api == "gemini":
            return gemini_requests.is_stream(self.path)
        return bool(self.request.get("stream"))

    @property
    def tools(self) -> list[dict[str, Any]]:
        """The function tools offered, chat-shaped (`{"type": "function", "function": {...}}`)."""
        return normalize.tools(self.api, self.request)

    @property
    def tool_names(self) -> list[str]:
        return [t.get("function", {}).get("name", "") for t in self.tools]

    @property
    def system_prompt(self) -> str | None:
        """The first system (or developer) message's text (Responses `instructions`, Anthropic `system`)."""
        for message in self.messages:
            if message.get("role") in ("system", "developer"):
                return content_text(message.get("content"))
        return None

    @property
    def last_user_message(self) -> str | None:
        for message in reversed(self.messages):
            if message.get("role") == "user":
                return content_text(message.get("content"))
        return None

    def tool_results(self, name_or_id: str) -> list[str]:
        """Every tool message answering a call of that tool name (or with that tool_call_id), oldest first."""
        names_by_id: dict[str, str] = {}
        for message in self.messages:
            for tc in message.get("tool_calls") or []:
                names_by_id[tc.get("id", "")] = tc.get("function", {}).get("name", "")
        found = []
        for message in self.messages:
            if message.get("role") != "tool":
                continue
            call_id = message.get("tool_call_id", "")
            if name_or_id in (call_id, names_by_id.get(call_id)):
                found.append(content_text(message.get("content")) or "")
        return found

    def tool_result(self, name_or_id: str) -> str:
        """The content of the latest tool message answering `name_or_id` (a tool name or a call id).

        Raises LookupError naming the tool results present, so a failing assertion says what was sent.
        """
        found = self.tool_results(name_or_id)
        if not found:
            present = [m.get("tool_call_id") for m in self.messages if m.get("role") == "tool"]
            raise LookupError(
                f"call {self.number} has no tool result for {name_or_id!r}; "
                f"tool messages present (by tool_call_id): {present!r}"
            )
        return found[-1]

    def tool_result_json(self, name_or_id: str) -> Any:
        """`tool_result` parsed as JSON."""
        return json.loads(self.tool_result(name_or_id))

    def summary(self, of: int | None = None) -> str:
        """The request's messages, one per line, for failure messages ("call 2 of 3" given `of`)."""
        place = f"call {self.number}" + (f" of {of}" if of is not None else "")
        lines = [f"{place}: {self.path} model={self.model!r} stream={self.stream}"]
        for message in self.messages:
            text = content_text(message.get("content"))
            extra = ""
            if message.get("tool_calls"):
                names = [tc.get("function", {}).get("name") for tc in message["tool_calls"]]
                extra = f" tool_calls={names!r}"
            if message.get("tool_call_id"):
                extra = f" tool_call_id={message['tool_call_id']!r}"
            lines.append(f"    {message.get('role')}: {_shorten(text)!r}{extra}")
        return "\n".join(lines)


def _shorten(text: str | None, limit: int = 200) -> str | None:
    if text is None or len(text) <= limit:
        return text
    return text[: limit - 3] + "..."
