"""Script files (YAML or JSON) for the command-line server: the same items, written as data.

    strict: true                 # optional; false answers extra calls with `default`
    default: {reply: "OK."}      # optional
    embedding_dimensions: 16     # optional
    checked: true                # optional; false sends tool calls and JSON unchecked against requests
    script:
      - reply: "Hello!"
      - reply: {text: "Slowly, word by word.", chunk_delay: 0.1}
      - tool_call: {name: create_task, arguments: {title: Write tests}}
      - tool_call: {name: add_todo, arguments: {}, unchecked: true}   # deliberate bad output
      - tool_calls: [{name: a, arguments: {x: 1}}, {name: b, arguments: '{"raw": "json"}'}]
      - tool_calls: {calls: [{name: a, arguments: {x: 1}}], chunk_delay: 0.1}
      - rate_limited: {retry_after: 0.5}
      - rate_limited: {retry_after: "Wed, 21 Oct 2026 07:28:00 GMT"}
      - rate_limited: {retry_after_ms: 500}
      - server_error: {status: 503}
      - overloaded: {}             # 529, Anthropic's overloaded_error
      - timeout: {}
      - disconnect: {}
      - cut_stream: {after: 2, reply: "Cut short"}
      - malformed_sse: {}
      - malformed: {body: "not json"}

A bare list is read as `script:`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from agent_testkit.fake_llm import script as items
from agent_testkit.fake_llm.script import ScriptItem, ToolCall

OPTIONS = ("strict", "allow_unused", "default", "embedding_dimensions", "checked")


def load_script_file(path: str | Path) -> tuple[list[ScriptItem], dict[str, Any]]:
    """The items of a script file and its FakeLLM options. YAML is a superset of JSON: one parser reads both."""
    data = yaml.safe_load(Path(path).read_text()) or []
    if isinstance(data, list):
        data = {"script": data}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a list of items or a mapping with 'script:'")
    unknown = set(data) - {"script", *OPTIONS}
    if unknown:
        raise ValueError(
            f"{path}: unknown key(s) {sorted(unknown)}; known: script, {', '.join(OPTIONS)}"
        )
    options = {k: data[k] for k in OPTIONS if k in data}
    if "default" in options:
        options["default"] = parse_item(options["default"])
    return [parse_item(entry) for entry in data.get("script") or []], options


def parse_item(entry: Any) -> ScriptItem:
    """One `{kind: arguments}` mapping (or a bare kind name, or a bare string for a reply) as an item."""
    if isinstance(entry, str):
        return items.reply(entry) if entry not in _NO_ARGUMENTS else _NO_ARGUMENTS[entry]()
    if not isinstance(entry, dict) or len(entry) != 1:
        raise ValueError(f"a script item is one mapping like {{reply: 'Hi'}}, not {entry!r}")
    ((kind, value),) = entry.items()
    if kind == "reply":
        if isinstance(value, dict):
            return items.reply(**value)
        return items.reply(str(value))
    if kind == "tool_call":
        return items.tool_calls(
            [_tool_call(value)],
            chunk_delay=value.get("chunk_delay", 0.0),
            unchecked=value.get("unchecked", False),
        )
    if kind == "tool_calls":
        if isinstance(value, dict):
            calls = [_tool_call(v) for v in value["calls"]]
            return items.tool_calls(
                calls,
                content=value.get("content"),
                chunk_delay=value.get("chunk_delay", 0.0),
                unchecked=value.get("unchecked", False),
            )
        return items.tool_calls([_tool_call(v) for v in value], content=None)
    if kind == "cut_stream":
        options = dict(value or {})
        reply = options.pop("reply", None)
        return items.cut_stream(
            int(options.pop("after", 1)), item=items.reply(reply) if reply else None
        )
    if kind in _WITH_OPTIONS:
        return _WITH_OPTIONS[kind](**(value or {}))
    raise ValueError(
        f"unknown script item {kind!r}; known: reply, tool_call, tool_calls, {', '.join(_KNOWN)}"
    )


def _tool_call(value: dict[str, Any]) -> ToolCall:
    return items.tool_calls([(value["name"], value.get("arguments") or {})]).calls[0]


_NO_ARGUMENTS: dict[str, Callable[[], ScriptItem]] = {
    "timeout": items.timeout,
    "disconnect": items.disconnect,
    "malformed_sse": items.malformed_sse,
}
_WITH_OPTIONS: dict[str, Callable[..., ScriptItem]] = {
    "rate_limited": items.rate_limited,
    "server_error": items.server_error,
    "overloaded": items.overloaded,
    "malformed": items.malformed,
    **_NO_ARGUMENTS,
}
_KNOWN = [*_WITH_OPTIONS, "cut_stream"]
