"""Which recorded interaction answers a request, and, when none does, what differs from the closest.

Every request is matched on method and URL (query order ignored) and, for JSON, on the body. Model
calls (Chat Completions, the Responses API, Anthropic Messages) are matched on meaning instead of bytes:
only the configured fields (`model`, `messages`, `tools`, `tool_choice`, `response_format`, `stream` by
default), so temperature, seed, `user`, `stream_options` and the like may change without re-recording.
Responses `instructions`/`input` and Anthropic `system`/`messages` are read as chat messages first (the
kit's `normalize`), tools as chat tools, and a Responses `previous_response_id` counts too.

Inside messages, tool-call ids are compared by position, not value: `call_ZR5U...` was made up by the
model while recording and comes back from the cassette on replay, but an app may also rewrite ids or
carry ones from its own fixtures. Each distinct id becomes `<id 1>`, `<id 2>`... in order of appearance,
so a tool result must still answer the same call. `None` fields, empty lists, text given as a list of
text parts, and whitespace in tool-call arguments do not count either.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from agent_testkit.cassettes.model import RecordedRequest, header
from agent_testkit.fake_llm import normalize
from agent_testkit.fake_llm.normalize import Api

DEFAULT_MATCH_ON = ("method", "url", "json_body")
DEFAULT_CHAT_MATCH_ON = ("model", "messages", "tools", "tool_choice", "response_format", "stream")
CHAT_PATH_SUFFIX = "/chat/completions"
MODEL_PATH_SUFFIXES: dict[str, Api] = {
    "/chat/completions": "chat",
    "/responses": "responses",
    "/messages": "messages",
    ":generateContent": "gemini",
    ":streamGenerateContent": "gemini",
}
_DEFAULT_PORTS = {"http": 80, "https": 443}
_MISSING = object()


@dataclass(frozen=True)
class Matcher:
    """`match_on`: "method", "url", "json_body" (chat bodies by `chat_match_on`), "body" (bytes), and
    "header:<name>" for any header (e.g. "header:accept" to tell a diff from JSON)."""

    match_on: Sequence[str] = DEFAULT_MATCH_ON
    chat_match_on: Sequence[str] = DEFAULT_CHAT_MATCH_ON

    def __post_init__(self) -> None:
        for rule in self.match_on:
            if rule not in ("method", "url", "json_body", "body") and not rule.startswith(
                "header:"
            ):
                raise ValueError(
                    f"unknown match_on rule {rule!r}: use method, url, json_body, body or header:<name>"
                )

    def differences(self, recorded: RecordedRequest, live: RecordedRequest) -> list[str]:
        """Why `recorded` does not answer `live`, one reason per rule; empty when it does."""
        found: list[str] = []
        for rule in self.match_on:
            found.extend(self._rule(rule, recorded, live))
        return found

    def _rule(self, rule: str, recorded: RecordedRequest, live: RecordedRequest) -> list[str]:
        if rule == "method":
            same = recorded.method == live.method
            return [] if same else [f"method: sent {live.method}, recorded {recorded.method}"]
        if rule == "url":
            same = url_key(recorded.url) == url_key(live.url)
            return [] if same else [f"url: sent {live.url}, recorded {recorded.url}"]
        if rule == "body":
            same = recorded.body.to_bytes() == live.body.to_bytes()
            return [] if same else ["body: the bytes differ"]
        if rule == "json_body":
            return self._json_body(recorded, live)
        name = rule.removeprefix("header:").lower()
        mine, theirs = header(live.headers, name), header(recorded.headers, name)
        return [] if mine == theirs else [f"header {name}: sent {mine!r}, recorded {theirs!r}"]

    def _json_body(self, recorded: RecordedRequest, live: RecordedRequest) -> list[str]:
        if recorded.body.kind != "json" and live.body.kind != "json":
            return []
        if recorded.body.kind != live.body.kind:
            return [f"body: sent {live.body.kind}, recorded {recorded.body.kind}"]
        api = model_api(live)
        if api is not None:
            mine = chat_view(live.body.json, self.chat_match_on, api)
            theirs = chat_view(recorded.body.json, self.chat_match_on, api)
        else:
            mine, theirs = live.body.json, recorded.body.json
        difference = first_difference(mine, theirs)
        return [] if difference is None else [difference]


def is_chat_request(request: RecordedRequest) -> bool:
    return model_api(request) is not None


def model_api(request: RecordedRequest) -> Api | None:
    """The wire format of a model call ("chat", "responses", "messages"), or None for other requests."""
    if request.method != "POST" or request.body.kind != "json":
        return None
    path = urlsplit(request.url).path.rstrip("/")
    for suffix, api in MODEL_PATH_SUFFIXES.items():
        if path.endswith(suffix):
            return api
    return None


def url_key(url: str) -> tuple[Any, ...]:
    parts = urlsplit(url)
    port = parts.port or _DEFAULT_PORTS.get(parts.scheme)
    query = sorted(parse_qsl(parts.query, keep_blank_values=True))
    return (parts.scheme, (parts.hostname or "").lower(), port, parts.path or "/", query)


# -- chat bodies --------------------------------------------------------------------------------------


def chat_view(body: Any, fields: Sequence[str], api: Api = "chat") -> dict[str, Any]:
    """The part of a model call that decides the answer, normalized (in the chat shape)."""
    body = body if isinstance(body, dict) else {}
    view: dict[str, Any] = {}
    for name in fields:
        value = body.get(name)
        if name == "stream":
            view[name] = bool(value)
        elif name == "messages":
            view[name] = normalize_messages(normalize.messages(api, body))
        elif name == "tools" and api != "chat":
            view[name] = _clean(normalize.tools(api, body))
        else:
            view[name] = _clean(value)
    if api == "responses" and body.get("previous_response_id"):
        view["previous_response_id"] = body["previous_response_id"]
    return view


def normalize_messages(messages: list[Any]) -> list[Any]:
    ids: dict[str, str] = {}

    def placeholder(value: Any) -> Any:
        if not isinstance(value, str):
            return value
        return ids.setdefault(value, f"<id {len(ids) + 1}>")

    normalized = []
    for message in messages:
        if not isinstance(message, dict):
            normalized.append(message)
            continue
        message = dict(message)
        message["content"] = _content(message.get("content"))
        if "tool_call_id" in message:
            message["tool_call_id"] = placeholder(message["tool_call_id"])
        calls = []
        for call in message.get("tool_calls") or []:
            call = dict(call)
            call["id"] = placeholder(call.get("id"))
            function = dict(call.get("function") or {})
            function["arguments"] = _arguments(function.get("arguments"))
            call["function"] = function
            calls.append(call)
        message["tool_calls"] = calls
        normalized.append(_clean(message))
    return normalized


def _content(content: Any) -> Any:
    """Text given as a list of text parts reads the same as the joined string."""
    if isinstance(content, list) and all(
        isinstance(p, dict) and p.get("type") == "text" for p in content
    ):
        return "".join(str(p.get("text", "")) for p in content)
    return content


def _arguments(arguments: Any) -> Any:
    if isinstance(arguments, str):
        try:
            return json.loads(arguments)
        except ValueError:
            return arguments
    return arguments


def _clean(value: Any) -> Any:
    """Drop None values and empty lists/dicts inside objects: absent and empty say the same."""
    if isinstance(value, dict):
        cleaned = {k: _clean(v) for k, v in value.items()}
        return {k: v for k, v in cleaned.items() if v is not None and v != [] and v != {}}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def first_difference(live: Any, recorded: Any, path: str = "") -> str | None:
    """`messages[2].content: sent 'Paris', recorded 'London'`: the first place they differ, or None."""
    if isinstance(live, dict) and isinstance(recorded, dict):
        for key in sorted(set(live) | set(recorded), key=str):
            found = first_difference(
                live.get(key, _MISSING),
                recorded.get(key, _MISSING),
                f"{path}.{key}" if path else key,
            )
            if found:
                return found
        return None
    if isinstance(live, list) and isinstance(recorded, list):
        for i, (a, b) in enumerate(zip(live, recorded, strict=False)):
            found = first_difference(a, b, f"{path}[{i}]")
            if found:
                return found
        if len(live) != len(recorded):
            return f"{path or 'body'}: sent {len(live)} items, recorded {len(recorded)}"
        return None
    if live == recorded:
        return None
    return f"{path or 'body'}: sent {_show(live)}, recorded {_show(recorded)}"


def _show(value: Any) -> str:
    if value is _MISSING:
        return "(absent)"
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


def summarize(request: RecordedRequest) -> str:
    """One line to recognize a request by: method, URL and, for chat, the last user message."""
    text = request.describe()
    api = model_api(request)
    if api is not None:
        messages = normalize.messages(api, request.body.json)
        users = [m for m in messages if isinstance(m, dict) and m.get("role") == "user"]
        if users:
            text += f" (last user message: {_show(_content(users[-1].get('content')))})"
    return text
