"""Requests of the four wire formats read as one: chat-completions-shaped messages and tools.

A test asserts `calls[i].messages`, `.tools` and `.tool_result(...)` the same way whether the app spoke
Chat Completions, the Responses API or Anthropic's Messages API; the raw body stays in `calls[i].request`.

The shape: `{"role": "system" | "user" | "assistant" | "tool", "content": str | None}`, an assistant's
tool calls as `tool_calls: [{"id", "type": "function", "function": {"name", "arguments"}}]` and a tool
result as `{"role": "tool", "tool_call_id", "content"}`; a tool as `{"type": "function", "function":
{"name", "description", "parameters"}}`.
"""

from __future__ import annotations

import json
from typing import Any, Literal, TypeAlias

Api: TypeAlias = Literal["chat", "responses", "messages", "gemini"]
Message: TypeAlias = dict[str, Any]


def content_text(content: Any) -> str | None:
    """The text of a message `content`: a string, or the text parts of a list of parts or blocks."""
    if content is None or isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return str(content)


def messages(api: Api, request: dict[str, Any]) -> list[Message]:
    """The conversation a request carries (without what `previous_response_id` adds), chat-shaped."""
    if api == "responses":
        return _responses_messages(request)
    if api == "messages":
        return _anthropic_messages(request)
    if api == "gemini":
        from agent_testkit.fake_llm import gemini_requests

        return gemini_requests.messages(request)
    return [dict(m) for m in request.get("messages") or [] if isinstance(m, dict)]


def tools(api: Api, request: dict[str, Any]) -> list[dict[str, Any]]:
    """The function tools offered, chat-shaped (built-in tools of the Responses API keep their shape)."""
    if api == "gemini":
        from agent_testkit.fake_llm import gemini_requests

        return gemini_requests.tools(request)
    found = []
    for tool in request.get("tools") or []:
        if not isinstance(tool, dict):
            continue
        if api == "chat" or "function" in tool:
            found.append(tool)
        elif api == "responses" and tool.get("type") == "function":
            keys = ("name", "description", "parameters", "strict")
            function = {k: tool[k] for k in keys if k in tool}
            found.append({"type": "function", "function": function})
        elif api == "messages" and "name" in tool:
            function = {"name": tool["name"], "parameters": tool.get("input_schema") or {}}
            if "description" in tool:
                function["description"] = tool["description"]
            found.append({"type": "function", "function": function})
        else:
            found.append(tool)
    return found


def tool_call(call_id: str, name: str, arguments: str) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


# -- the Responses API ------------------------------------------------------------------------------------


def response_input(request: dict[str, Any]) -> list[Message]:
    """A Responses API request's `input` alone, chat-shaped: what a later `previous_response_id` carries.

    OpenAI documents that `instructions` are not carried over to the next response, so they are left out.
    """
    found: list[Message] = []
    items = request.get("input")
    if isinstance(items, str):
        found.append({"role": "user", "content": items})
    elif isinstance(items, list):
        found += _response_items(items)
    return found


def response_instructions(request: dict[str, Any]) -> list[Message]:
    """A Responses API request's `instructions` as system messages (this request's alone)."""
    instructions = request.get("instructions")
    if isinstance(instructions, str) and instructions:
        return [{"role": "system", "content": instructions}]
    if isinstance(instructions, list):
        return _response_items(instructions)
    return []


def _responses_messages(request: dict[str, Any]) -> list[Message]:
    return response_instructions(request) + response_input(request)


def _response_items(items: list[Any]) -> list[Message]:
    found: list[Message] = []
    for item in items:
        if not isinstance(item, dict):
            continue
        kind = item.get("type", "message")
        if kind == "message" and "role" in item:
            role = "system" if item["role"] == "developer" else item["role"]
            found.append({"role": role, "content": content_text(item.get("content"))})
        elif kind == "function_call":
            call = tool_call(
                item.get("call_id", ""), item.get("name", ""), item.get("arguments", "")
            )
            _assistant_turn(found)["tool_calls"].append(call)
        elif kind == "function_call_output":
            output = item.get("output")
            text = output if isinstance(output, str) else content_text(output) or ""
            found.append({"role": "tool", "tool_call_id": item.get("call_id", ""), "content": text})
    return found


def _assistant_turn(found: list[Message]) -> Message:
    """The assistant message the next tool call belongs to: the last one, or a new one."""
    last = found[-1] if found else None
    if last is None or last["role"] != "assistant":
        last = {"role": "assistant", "content": None}
        found.append(last)
    last.setdefault("tool_calls", [])
    return last


# -- Anthropic's Messages API -------------------------------------------------------------------------------


def _anthropic_messages(request: dict[str, Any]) -> list[Message]:
    found: list[Message] = []
    system = content_text(request.get("system"))
    if system:
        found.append({"role": "system", "content": system})
    for message in request.get("messages") or []:
        if not isinstance(message, dict):
            continue
        content = message.get("content")
        if not isinstance(content, list):
            found.append({"role": message.get("role"), "content": content_text(content)})
            continue
        found += _anthropic_blocks(str(message.get("role")), content)
    return found


def _anthropic_blocks(role: str, blocks: list[Any]) -> list[Message]:
    """One message's blocks: tool results become tool messages, tool uses an assistant's tool calls."""
    found: list[Message] = []
    text = "".join(
        str(b.get("text", "")) for b in blocks if isinstance(b, dict) and b.get("type") == "text"
    )
    uses = [b for b in blocks if isinstance(b, dict) and b.get("type") == "tool_use"]
    for block in blocks:
        if isinstance(block, dict) and block.get("type") == "tool_result":
            result = block.get("content")
            found.append(
                {
                    "role": "tool",
                    "tool_call_id": block.get("tool_use_id", ""),
                    "content": content_text(result) or "",
                }
            )
    if text or not (found or uses):
        found.append({"role": role, "content": text})
    if uses:
        turn = found[-1] if found and found[-1]["role"] == "assistant" else None
        if turn is None:
            turn = {"role": "assistant", "content": None}
            found.append(turn)
        turn["tool_calls"] = [
            tool_call(b.get("id", ""), b.get("name", ""), json.dumps(b.get("input") or {}))
            for b in uses
        ]
    return found
