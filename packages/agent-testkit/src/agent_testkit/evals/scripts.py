"""The model's side of a case, for offline runs: script items written as data (the fake LLM's script
file format), with placeholders for what only exists once the case runs.

    script:
      - tool_call: {name: update_task, arguments: {task_id: "${task:Renew passport}", status: done}}
      - tool_call: {name: read_document_chunk, arguments: {chunk_id: "${result:search_documents.results.0.chunk_id}"}}
      - reply: Done.
    judge:
      - verdict: {score: 0.9, reasoning: Names the task and its priority.}

`${name}` is a variable the app's side set up (an id); `${result:tool.path}` is read, when the call
arrives, from the latest result of `tool` the app sent back to the model.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Mapping, Sequence
from typing import Any

from agent_testkit.fake_llm import script as items
from agent_testkit.fake_llm.recording import RecordedCall
from agent_testkit.fake_llm.script import ScriptItem
from agent_testkit.fake_llm.script_file import parse_item

PLACEHOLDER = re.compile(r"\$\{([^}]+)\}")
RESULT_PREFIX = "result:"


class PlaceholderError(KeyError):
    """A `${...}` with no value; the message lists the known ones."""

    def __str__(self) -> str:
        return str(self.args[0])


def substitute(value: Any, variables: Mapping[str, str], *, keep_results: bool = False) -> Any:
    """`value` with every `${name}` replaced, deeply (strings inside lists and mappings too)."""
    if isinstance(value, str):

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if keep_results and name.startswith(RESULT_PREFIX):
                return match.group(0)
            if name not in variables:
                known = ", ".join(sorted(variables)) or "none"
                raise PlaceholderError(f"unknown placeholder ${{{name}}}; known: {known}")
            return variables[name]

        return PLACEHOLDER.sub(replace, value)
    if isinstance(value, Mapping):
        return {k: substitute(v, variables, keep_results=keep_results) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, variables, keep_results=keep_results) for v in value]
    return value


def has_placeholder(value: Any) -> bool:
    if isinstance(value, str):
        return PLACEHOLDER.search(value) is not None
    if isinstance(value, Mapping):
        return any(has_placeholder(v) for v in value.values())
    if isinstance(value, list):
        return any(has_placeholder(v) for v in value)
    return False


def result_value(call: RecordedCall, reference: str) -> str:
    """`tool.path.to.value` from the latest result of `tool` in the request (`0` indexes a list)."""
    tool, _, path = reference.partition(".")
    value: Any = call.tool_result_json(tool)
    for key in path.split(".") if path else []:
        value = value[int(key)] if isinstance(value, list) else value[key]
    return value if isinstance(value, str) else json.dumps(value)


def script_items(entries: Sequence[Any], variables: Mapping[str, str]) -> list[ScriptItem]:
    """Script items for a fake LLM; `${result:...}` entries decide when their call arrives."""
    built: list[ScriptItem] = []
    for entry in entries:
        entry = _verdict(entry)
        resolved = substitute(entry, variables, keep_results=True)
        if has_placeholder(resolved):
            built.append(items.respond(_deferred(resolved)))
        else:
            built.append(parse_item(resolved))
    return built


def _verdict(entry: Any) -> Any:
    """`{verdict: {score, reasoning}}`: a judge's reply, written as data instead of a JSON string."""
    if isinstance(entry, Mapping) and set(entry) == {"verdict"}:
        return {"reply": json.dumps(entry["verdict"])}
    return entry


def _deferred(entry: Any) -> Any:
    def resolve_from_request(call: RecordedCall) -> ScriptItem:
        results = {
            match.group(1): result_value(call, match.group(1)[len(RESULT_PREFIX) :])
            for match in PLACEHOLDER.finditer(json.dumps(entry))
        }
        return parse_item(substitute(entry, results))

    return resolve_from_request


VAGUE_REPLY = "Okay, I have looked into it."


def vary_script(entries: Sequence[Any], rng: random.Random, rate: float) -> list[Any]:
    """A scripted model that is not always at its best, for offline epochs: with probability
    `rate` its final reply comes out vague (`VAGUE_REPLY`), so graders of the reply lose points
    while what the tools did stays the same. The caller seeds `rng` per case and epoch."""
    varied = list(entries)
    last = max(
        (n for n, e in enumerate(varied) if isinstance(e, Mapping) and set(e) == {"reply"}),
        default=None,
    )
    if last is not None and isinstance(varied[last]["reply"], str) and rng.random() < rate:
        varied[last] = {"reply": VAGUE_REPLY}
    return varied
