"""Gemini requests (`generateContent`, `streamGenerateContent`) read in the chat shape of `normalize`:
the model and streaming are in the path, `systemInstruction` and `contents` hold the conversation,
`tools[].functionDeclarations` the function tools (google-genai sends camelCase; snake_case is read too).
"""

from __future__ import annotations

import json
from typing import Any

from agent_testkit.fake_llm import normalize


def model_of(path: str) -> str | None:
    """The model named in a Gemini path (`.../models/gemini-2.5-flash:generateContent`)."""
    name = path.rsplit("/models/", 1)[-1] if "/models/" in path else ""
    return name.split(":", 1)[0] or None


def is_stream(path: str) -> bool:
    return path.endswith(":streamGenerateContent")


def messages(request: dict[str, Any]) -> list[normalize.Message]:
    """`systemInstruction` and `contents` as chat-shaped messages: `functionCall` parts become an
    assistant's tool calls, `functionResponse` parts tool messages (their id, else the tool's name)."""
    found: list[normalize.Message] = []
    system = _get(request, "systemInstruction", "system_instruction")
    if isinstance(system, dict):
        found.append({"role": "system", "content": _text(system.get("parts"))})
    elif isinstance(system, str):
        found.append({"role": "system", "content": system})
    for content in request.get("contents") or []:
        if isinstance(content, dict):
            found += _content(content)
    return found


def _content(content: dict[str, Any]) -> list[normalize.Message]:
    role = "assistant" if content.get("role") == "model" else "user"
    parts = [p for p in content.get("parts") or [] if isinstance(p, dict)]
    found: list[normalize.Message] = []
    for part in parts:
        response = _get(part, "functionResponse", "function_response")
        if isinstance(response, dict):
            call_id = response.get("id") or response.get("name", "")
            result = response.get("response")
            text = json.dumps(result) if not isinstance(result, str) else result
            found.append({"role": "tool", "tool_call_id": call_id, "content": text})
    text = _text(parts)
    calls = [_get(p, "functionCall", "function_call") for p in parts]
    tool_calls = [
        normalize.tool_call(
            c.get("id") or c.get("name", ""), c.get("name", ""), json.dumps(c.get("args") or {})
        )
        for c in calls
        if isinstance(c, dict)
    ]
    if text or not (found or tool_calls):
        found.append({"role": role, "content": text})
    if tool_calls:
        if not found or found[-1]["role"] != "assistant":
            found.append({"role": "assistant", "content": None})
        found[-1]["tool_calls"] = tool_calls
    return found


def tools(request: dict[str, Any]) -> list[dict[str, Any]]:
    """Each `functionDeclarations` entry as a chat-shaped function tool, its schema as JSON Schema."""
    from agent_testkit.fake_llm.checks import openapi_to_json_schema

    found = []
    for tool in request.get("tools") or []:
        declarations = _get(tool, "functionDeclarations", "function_declarations") or []
        for declaration in declarations:
            schema = _get(declaration, "parametersJsonSchema", "parameters_json_schema")
            if schema is None:
                schema = openapi_to_json_schema(declaration.get("parameters") or {})
            function = {"name": declaration.get("name", ""), "parameters": schema}
            if "description" in declaration:
                function["description"] = declaration["description"]
            found.append({"type": "function", "function": function})
    return found


def _get(value: Any, camel: str, snake: str) -> Any:
    if not isinstance(value, dict):
        return None
    return value.get(camel, value.get(snake))


def _text(parts: Any) -> str:
    return "".join(str(p["text"]) for p in parts or [] if isinstance(p, dict) and "text" in p)
