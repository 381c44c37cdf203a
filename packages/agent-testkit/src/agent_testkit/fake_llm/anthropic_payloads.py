"""Anthropic Messages API payloads (`POST /v1/messages`), built from the anthropic SDK's own types.

A scripted answer becomes a `Message` with a `text` block and one `tool_use` block per tool call;
streamed, the event sequence the API sends: `message_start`, per block `content_block_start`, its
`content_block_delta`s (`text_delta` or `input_json_delta` fragments) and `content_block_stop`, then
`message_delta` with the `stop_reason` and output usage, and `message_stop`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from anthropic import BaseModel
from anthropic.types import (
    InputJSONDelta,
    Message,
    MessageDeltaUsage,
    RawContentBlockDeltaEvent,
    RawContentBlockStartEvent,
    RawContentBlockStopEvent,
    RawMessageDeltaEvent,
    RawMessageStartEvent,
    RawMessageStopEvent,
    TextBlock,
    TextDelta,
    ToolUseBlock,
    Usage,
)
from anthropic.types.raw_message_delta_event import Delta

from agent_testkit.fake_llm.payloads import completion_tokens, split_arguments, split_text
from agent_testkit.fake_llm.script import Reply, ToolCalls

STOP_REASONS = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use"}
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}


def ids_for(number: int, item: Reply | ToolCalls) -> tuple[str, list[str]]:
    """The message id and one `tool_use` id per tool call (the scripted one, if any)."""
    if isinstance(item, Reply):
        return f"msg_fake_{number}", []
    return f"msg_fake_{number}", [
        c.call_id or f"toolu_fake_{number}_{i}" for i, c in enumerate(item.calls)
    ]


def stop_reason(item: Reply | ToolCalls) -> Any:
    if isinstance(item, ToolCalls):
        return "tool_use"
    return STOP_REASONS.get(item.finish_reason, item.finish_reason)


def _input(arguments: str) -> dict[str, Any]:
    """A tool_use block's `input` is an object; arguments that are not one are sent as `{}`."""
    try:
        parsed = json.loads(arguments)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def blocks(item: Reply | ToolCalls, tool_ids: list[str]) -> list[Any]:
    text = item.text if isinstance(item, Reply) else item.content
    found: list[Any] = []
    if text is not None and (isinstance(item, Reply) or text):
        found.append(TextBlock(type="text", text=text, citations=None))
    if isinstance(item, ToolCalls):
        found += [
            ToolUseBlock(type="tool_use", id=call_id, name=c.name, input=_input(c.arguments))
            for c, call_id in zip(item.calls, tool_ids, strict=True)
        ]
    return found


def _usage(prompt: int, output: int) -> Usage:
    return Usage(
        input_tokens=prompt,
        output_tokens=output,
        cache_creation_input_tokens=0,
        cache_read_input_tokens=0,
        service_tier="standard",
    )


def message(
    item: Reply | ToolCalls | None,
    request: dict[str, Any],
    message_id: str,
    tool_ids: list[str],
    *,
    prompt: int,
) -> Message:
    """The message: finished with its blocks, or (item None) as `message_start` announces it."""
    return Message(
        id=message_id,
        type="message",
        role="assistant",
        model=str(request.get("model") or "fake-model"),
        content=blocks(item, tool_ids) if item is not None else [],
        stop_reason=stop_reason(item) if item is not None else None,
        stop_sequence=None,
        usage=_usage(prompt, completion_tokens(item) if item is not None else 1),
    )


def body(
    item: Reply | ToolCalls,
    request: dict[str, Any],
    message_id: str,
    tool_ids: list[str],
    *,
    prompt: int,
) -> bytes:
    return dump(message(item, request, message_id, tool_ids, prompt=prompt))


def dump(model: BaseModel) -> bytes:
    return model.model_dump_json(exclude_unset=True, warnings=False).encode()


def opening(request: dict[str, Any], message_id: str, *, prompt: int) -> BaseModel:
    start = message(None, request, message_id, [], prompt=prompt)
    return RawMessageStartEvent(type="message_start", message=start)


def events(
    item: Reply | ToolCalls,
    request: dict[str, Any],
    message_id: str,
    tool_ids: list[str],
    *,
    prompt: int,
) -> Iterator[BaseModel]:
    yield opening(request, message_id, prompt=prompt)
    for index, block in enumerate(blocks(item, tool_ids)):
        if isinstance(block, TextBlock):
            yield RawContentBlockStartEvent(
                type="content_block_start",
                index=index,
                content_block=TextBlock(type="text", text="", citations=None),
            )
            for piece in split_text(block.text):
                delta = TextDelta(type="text_delta", text=piece)
                yield RawContentBlockDeltaEvent(
                    type="content_block_delta", index=index, delta=delta
                )
        else:
            empty = ToolUseBlock(type="tool_use", id=block.id, name=block.name, input={})
            yield RawContentBlockStartEvent(
                type="content_block_start", index=index, content_block=empty
            )
            for fragment in split_arguments(json.dumps(block.input)):
                partial = InputJSONDelta(type="input_json_delta", partial_json=fragment)
                yield RawContentBlockDeltaEvent(
                    type="content_block_delta", index=index, delta=partial
                )
        yield RawContentBlockStopEvent(type="content_block_stop", index=index)
    yield RawMessageDeltaEvent(
        type="message_delta",
        delta=Delta(stop_reason=stop_reason(item), stop_sequence=None),
        usage=MessageDeltaUsage(output_tokens=completion_tokens(item)),
    )
    yield RawMessageStopEvent(type="message_stop")


def error_body(status: int, message: str, *, request_id: str) -> bytes:
    """Anthropic's error envelope: `{"type": "error", "error": {"type", "message"}, "request_id"}`."""
    error_type = ERROR_TYPES.get(status, "api_error")
    return json.dumps(
        {
            "type": "error",
            "error": {"type": error_type, "message": message},
            "request_id": request_id,
        }
    ).encode()
