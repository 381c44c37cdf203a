"""OpenAI Responses API payloads (`POST /v1/responses`), built from the openai SDK's own types.

A scripted answer becomes a `Response` whose `output` holds a message item (the text) and one
`function_call` item per tool call; streamed, it becomes the typed event sequence the API sends:
`response.created`, `response.in_progress`, then per output item `response.output_item.added`, its
content (`response.content_part.added`, `response.output_text.delta`... or
`response.function_call_arguments.delta`...), `response.output_item.done`, and `response.completed` with
usage. Items stream one after another, as the API sends them.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from openai import BaseModel
from openai.types.responses import (
    FunctionTool,
    Response,
    ResponseCompletedEvent,
    ResponseContentPartAddedEvent,
    ResponseContentPartDoneEvent,
    ResponseCreatedEvent,
    ResponseFunctionCallArgumentsDeltaEvent,
    ResponseFunctionCallArgumentsDoneEvent,
    ResponseFunctionToolCall,
    ResponseInProgressEvent,
    ResponseOutputItemAddedEvent,
    ResponseOutputItemDoneEvent,
    ResponseOutputMessage,
    ResponseOutputText,
    ResponseTextDeltaEvent,
    ResponseTextDoneEvent,
    ResponseUsage,
)
from openai.types.responses.response import IncompleteDetails
from openai.types.responses.response_usage import InputTokensDetails, OutputTokensDetails

from agent_testkit.fake_llm.payloads import completion_tokens, split_arguments, split_text
from agent_testkit.fake_llm.script import Reply, ToolCalls


@dataclass(frozen=True)
class ResponseIds:
    """The response id, its message item id and each function call's item id and call id."""

    response: str
    message: str
    items: list[str]
    calls: list[str]


def ids_for(number: int, item: Reply | ToolCalls) -> ResponseIds:
    if isinstance(item, Reply):
        return ResponseIds(f"resp_fake_{number}", f"msg_fake_{number}", [], [])
    items = [f"fc_fake_{number}_{i}" for i in range(len(item.calls))]
    calls = [c.call_id or f"call_fake_{number}_{i}" for i, c in enumerate(item.calls)]
    return ResponseIds(f"resp_fake_{number}", f"msg_fake_{number}", items, calls)


def _text_of(item: Reply | ToolCalls) -> str | None:
    return item.text if isinstance(item, Reply) else item.content


def _message(ids: ResponseIds, text: str, *, done: bool) -> ResponseOutputMessage:
    content = [ResponseOutputText(type="output_text", text=text, annotations=[], logprobs=[])]
    return ResponseOutputMessage(
        id=ids.message,
        type="message",
        role="assistant",
        status="completed" if done else "in_progress",
        content=content if done else [],
    )


def _function_call(
    ids: ResponseIds, index: int, item: ToolCalls, *, done: bool
) -> ResponseFunctionToolCall:
    call = item.calls[index]
    return ResponseFunctionToolCall(
        id=ids.items[index],
        type="function_call",
        call_id=ids.calls[index],
        name=call.name,
        arguments=call.arguments if done else "",
        status="completed" if done else "in_progress",
    )


def output(item: Reply | ToolCalls, ids: ResponseIds) -> list[Any]:
    """The finished output items: the message (if there is text) then the function calls."""
    found: list[Any] = []
    text = _text_of(item)
    if text is not None and (isinstance(item, Reply) or text):
        found.append(_message(ids, text, done=True))
    if isinstance(item, ToolCalls):
        found += [_function_call(ids, i, item, done=True) for i in range(len(item.calls))]
    return found


def usage(prompt: int, item: Reply | ToolCalls) -> ResponseUsage:
    completion = completion_tokens(item)
    return ResponseUsage(
        input_tokens=prompt,
        input_tokens_details=InputTokensDetails(cached_tokens=0, cache_write_tokens=0),
        output_tokens=completion,
        output_tokens_details=OutputTokensDetails(reasoning_tokens=0),
        total_tokens=prompt + completion,
    )


def _tools(request: dict[str, Any]) -> list[Any]:
    found: list[Any] = []
    for tool in request.get("tools") or []:
        if isinstance(tool, dict) and tool.get("type") == "function":
            found.append(
                FunctionTool(
                    type="function",
                    name=str(tool.get("name", "")),
                    parameters=tool.get("parameters"),
                    strict=tool.get("strict"),
                    description=tool.get("description"),
                )
            )
    return found


def response(
    request: dict[str, Any],
    ids: ResponseIds,
    *,
    item: Reply | ToolCalls | None,
    prompt: int,
    created_at: int,
) -> Response:
    """The response object: in progress (`item` None, no output yet) or finished with usage."""
    tool_choice = request.get("tool_choice")
    fields: dict[str, Any] = {
        "id": ids.response,
        "object": "response",
        "created_at": created_at,
        "model": str(request.get("model") or "fake-model"),
        "output": [],
        "parallel_tool_calls": bool(request.get("parallel_tool_calls", True)),
        "tool_choice": tool_choice if isinstance(tool_choice, str) else "auto",
        "tools": _tools(request),
        "status": "in_progress",
        "error": None,
        "incomplete_details": None,
        "instructions": request.get("instructions"),
        "metadata": request.get("metadata") or {},
        "previous_response_id": request.get("previous_response_id"),
        "store": request.get("store", True),
        "temperature": request.get("temperature"),
        "top_p": request.get("top_p"),
        "max_output_tokens": request.get("max_output_tokens"),
    }
    if item is not None:
        incomplete = isinstance(item, Reply) and item.finish_reason == "length"
        fields["output"] = output(item, ids)
        fields["status"] = "incomplete" if incomplete else "completed"
        if incomplete:
            fields["incomplete_details"] = IncompleteDetails(reason="max_output_tokens")
        else:
            fields["completed_at"] = int(time.time())
        fields["usage"] = usage(prompt, item)
    return Response(**fields)


def body(
    item: Reply | ToolCalls, request: dict[str, Any], ids: ResponseIds, *, prompt: int
) -> bytes:
    """The JSON body of a non-streamed response."""
    done = response(request, ids, item=item, prompt=prompt, created_at=int(time.time()))
    return dump(done)


def dump(model: BaseModel) -> bytes:
    return model.model_dump_json(exclude_unset=True, warnings=False).encode()


class EventStream:
    """Builds the typed event sequence for one answer; `sequence_number` counts from 0."""

    def __init__(self, request: dict[str, Any], ids: ResponseIds, prompt: int) -> None:
        self.request, self.ids, self.prompt = request, ids, prompt
        self.created_at = int(time.time())
        self.sequence = 0

    def _next(self) -> int:
        self.sequence += 1
        return self.sequence - 1

    def opening(self) -> Iterator[BaseModel]:
        start = response(
            self.request, self.ids, item=None, prompt=self.prompt, created_at=self.created_at
        )
        yield ResponseCreatedEvent(
            type="response.created", response=start, sequence_number=self._next()
        )
        yield ResponseInProgressEvent(
            type="response.in_progress", response=start, sequence_number=self._next()
        )

    def events(self, item: Reply | ToolCalls) -> Iterator[BaseModel]:
        yield from self.opening()
        index = 0
        text = _text_of(item)
        if text is not None and (isinstance(item, Reply) or text):
            yield from self._message_events(index, text)
            index += 1
        if isinstance(item, ToolCalls):
            for call_index in range(len(item.calls)):
                yield from self._call_events(index, call_index, item)
                index += 1
        done = response(
            self.request, self.ids, item=item, prompt=self.prompt, created_at=self.created_at
        )
        yield ResponseCompletedEvent(
            type="response.completed", response=done, sequence_number=self._next()
        )

    def _message_events(self, index: int, text: str) -> Iterator[BaseModel]:
        ids, message_id = self.ids, self.ids.message
        yield ResponseOutputItemAddedEvent(
            type="response.output_item.added",
            output_index=index,
            item=_message(ids, text, done=False),
            sequence_number=self._next(),
        )
        empty = ResponseOutputText(type="output_text", text="", annotations=[], logprobs=[])
        yield ResponseContentPartAddedEvent(
            type="response.content_part.added",
            item_id=message_id,
            output_index=index,
            content_index=0,
            part=empty,
            sequence_number=self._next(),
        )
        for piece in split_text(text):
            yield ResponseTextDeltaEvent(
                type="response.output_text.delta",
                item_id=message_id,
                output_index=index,
                content_index=0,
                delta=piece,
                logprobs=[],
                sequence_number=self._next(),
            )
        yield ResponseTextDoneEvent(
            type="response.output_text.done",
            item_id=message_id,
            output_index=index,
            content_index=0,
            text=text,
            logprobs=[],
            sequence_number=self._next(),
        )
        full = ResponseOutputText(type="output_text", text=text, annotations=[], logprobs=[])
        yield ResponseContentPartDoneEvent(
            type="response.content_part.done",
            item_id=message_id,
            output_index=index,
            content_index=0,
            part=full,
            sequence_number=self._next(),
        )
        yield ResponseOutputItemDoneEvent(
            type="response.output_item.done",
            output_index=index,
            item=_message(ids, text, done=True),
            sequence_number=self._next(),
        )

    def _call_events(self, index: int, call_index: int, item: ToolCalls) -> Iterator[BaseModel]:
        item_id = self.ids.items[call_index]
        yield ResponseOutputItemAddedEvent(
            type="response.output_item.added",
            output_index=index,
            item=_function_call(self.ids, call_index, item, done=False),
            sequence_number=self._next(),
        )
        arguments = item.calls[call_index].arguments
        for fragment in split_arguments(arguments):
            yield ResponseFunctionCallArgumentsDeltaEvent(
                type="response.function_call_arguments.delta",
                item_id=item_id,
                output_index=index,
                delta=fragment,
                sequence_number=self._next(),
            )
        yield ResponseFunctionCallArgumentsDoneEvent(
            type="response.function_call_arguments.done",
            item_id=item_id,
            output_index=index,
            arguments=arguments,
            sequence_number=self._next(),
            name=item.calls[call_index].name,  # in the spec, not (yet) in the SDK's type
        )
        yield ResponseOutputItemDoneEvent(
            type="response.output_item.done",
            output_index=index,
            item=_function_call(self.ids, call_index, item, done=True),
            sequence_number=self._next(),
        )
