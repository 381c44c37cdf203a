"""Checked scripts: a scripted answer must fit the request it answers.

A real model only calls tools it was offered, with arguments its provider validated against the tool's
schema (strict mode), and answers in the output schema it was asked for. A script that does otherwise
(a misspelled `get_wether`, a missing required argument, JSON that does not fit `response_format`) would
test an app against a model that cannot exist, and a framework that retries on bad output (pydantic-ai)
would hide the mistake. So each scripted answer is checked against its request, and a mismatch fails
the test with the request's tool list and the schema error. `unchecked=True` on `reply(...)`,
`tool_call(...)` and `tool_calls(...)` sends deliberate bad output anyway; tool arguments scripted as a
raw string that is not JSON are deliberate already and only their tool name is checked.
"""

from __future__ import annotations

import json
from typing import Any

from jsonschema import exceptions as schema_errors
from jsonschema import validators

from agent_testkit.fake_llm.recording import RecordedCall
from agent_testkit.fake_llm.script import Reply, ScriptItem, ToolCall, ToolCalls

UNCHECKED_HINT = "Fix the script, or pass unchecked=True to send it anyway (deliberate bad output)."


def mismatch(item: ScriptItem, call: RecordedCall) -> str | None:
    """Why `item` cannot answer `call` (one paragraph), or None when it fits or is unchecked."""
    if isinstance(item, ToolCalls) and not item.unchecked:
        for tool_call in item.calls:
            found = _tool_call_mismatch(tool_call, call)
            if found:
                return _say(item, call, found)
    if isinstance(item, Reply) and not item.unchecked:
        found = _output_mismatch(item.text, call)
        if found:
            return _say(item, call, found)
    return None


def _say(item: ScriptItem, call: RecordedCall, why: str) -> str:
    return (
        f"script item {item.describe()} does not fit call {call.number} "
        f"({call.path}): {why}\n    the request offered the tools: {call.tool_names!r}\n    "
        + UNCHECKED_HINT
    )


def _tool_call_mismatch(tool_call: ToolCall, call: RecordedCall) -> str | None:
    schemas = {
        tool.get("function", {}).get("name"): tool.get("function", {}).get("parameters")
        for tool in call.tools
        if tool.get("type", "function") == "function"
    }
    if tool_call.name not in schemas:
        return f"it calls {tool_call.name!r}, a tool the request did not offer"
    try:
        arguments = json.loads(tool_call.arguments)
    except ValueError:
        return None  # a raw string that is not JSON: scripted on purpose, as the docs say
    error = schema_error(arguments, schemas[tool_call.name])
    if error:
        return f"its arguments for {tool_call.name!r} do not fit the tool's schema: {error}"
    return None


def _output_mismatch(text: str, call: RecordedCall) -> str | None:
    wanted = output_schema(call)
    if wanted is None:
        return None
    kind, schema = wanted
    try:
        value = json.loads(text)
    except ValueError:
        return f"the request asks for JSON ({kind}) and the reply is not JSON: {text[:120]!r}"
    if schema is None:
        return None if isinstance(value, dict) else f"{kind} asks for a JSON object, not {value!r}"
    error = schema_error(value, schema)
    return f"the reply does not fit the request's {kind} schema: {error}" if error else None


def output_schema(call: RecordedCall) -> tuple[str, dict[str, Any] | None] | None:
    """The output format a request asks for: (where it was asked, the JSON schema or None for any
    JSON object), or None when the request asks for free text."""
    request = call.request
    if call.api == "chat":
        return _openai_format("response_format", request.get("response_format"), nested=True)
    if call.api == "responses":
        text = request.get("text")
        return _openai_format("text.format", text.get("format") if isinstance(text, dict) else None)
    if call.api == "messages":
        config = request.get("output_config")
        fmt = request.get("output_format") or (
            config.get("format") if isinstance(config, dict) else None
        )
        return _openai_format("output_format", fmt)
    if call.api == "gemini":
        return _gemini_format(request.get("generationConfig") or request.get("generation_config"))
    return None


def _openai_format(
    where: str, fmt: Any, *, nested: bool = False
) -> tuple[str, dict[str, Any] | None] | None:
    if not isinstance(fmt, dict):
        return None
    if fmt.get("type") == "json_object":
        return where, None
    if fmt.get("type") != "json_schema":
        return None
    holder = fmt.get("json_schema") if nested else fmt
    schema = holder.get("schema") if isinstance(holder, dict) else None
    return where, schema if isinstance(schema, dict) else None


def _gemini_format(config: Any) -> tuple[str, dict[str, Any] | None] | None:
    if not isinstance(config, dict):
        return None
    for key in ("responseJsonSchema", "response_json_schema"):
        if isinstance(config.get(key), dict):
            return f"generationConfig.{key}", config[key]
    for key in ("responseSchema", "response_schema"):
        if isinstance(config.get(key), dict):
            return f"generationConfig.{key}", openapi_to_json_schema(config[key])
    if config.get("responseMimeType") == "application/json":
        return "generationConfig.responseMimeType", None
    return None


def openapi_to_json_schema(schema: Any) -> Any:
    """Gemini's OpenAPI-subset schema (types spelled "OBJECT", `nullable`) as JSON Schema."""
    if isinstance(schema, list):
        return [openapi_to_json_schema(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    converted = {k: openapi_to_json_schema(v) for k, v in schema.items() if k != "nullable"}
    if isinstance(converted.get("type"), str):
        kind = converted["type"].lower()
        converted["type"] = [kind, "null"] if schema.get("nullable") else kind
    return converted


def schema_error(value: Any, schema: Any) -> str | None:
    """The most relevant validation error of `value` against `schema` (its dialect from `$schema`,
    Draft 2020-12 otherwise), as "message (at path)", or None when it validates."""
    if not isinstance(schema, dict) or not schema:
        return None
    cls = validators.validator_for(schema, default=validators.Draft202012Validator)
    try:
        validator = cls(schema)
        error = schema_errors.best_match(validator.iter_errors(value))
    except (schema_errors.SchemaError, schema_errors.UnknownType):
        return None  # the provider judges a schema; the kit checks only what fits a valid one
    if error is None:
        return None
    return f"{error.message} (at {error.json_path})"
