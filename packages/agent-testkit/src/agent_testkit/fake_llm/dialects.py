"""The three wire formats one script answers: how a reply, a tool call or an error looks in each.

The app decides *what* happens (a reply, a 429, a cut stream) from the script; a dialect says how that
is spelled on the wire: Chat Completions (`data:` chunks and `[DONE]`), the Responses API (typed events)
or Anthropic's Messages API (typed events, its own error envelope and 529 "overloaded").
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Literal, TypeAlias

from starlette.responses import Response

from agent_testkit.fake_llm import normalize, payloads, responses_payloads
from agent_testkit.fake_llm.normalize import Api
from agent_testkit.fake_llm.recording import RecordedCall
from agent_testkit.fake_llm.script import Reply, ToolCalls

JSON = "application/json"
ErrorKind: TypeAlias = Literal["rate_limit", "server", "exhausted", "invalid", "not_found"]
OPENAI_ERRORS: dict[str, tuple[str, str | None]] = {
    "rate_limit": ("requests", "rate_limit_exceeded"),
    "server": ("server_error", None),
    "exhausted": ("fake_llm_script_exhausted", None),
    "invalid": ("invalid_request_error", None),
    "not_found": ("invalid_request_error", "not_found"),
}
Answer: TypeAlias = Reply | ToolCalls


def sse_frame(data: bytes, event: str | None = None) -> bytes:
    head = f"event: {event}\n".encode() if event else b""
    return head + b"data: " + data + b"\n\n"


def prompt_tokens(call: RecordedCall) -> int:
    return payloads.prompt_tokens(call.messages, call.tools)


class Dialect:
    """Chat Completions; the base the other formats override."""

    api: Api = "chat"

    def body(self, item: Answer, call: RecordedCall, number: int) -> bytes:
        """The JSON body of a non-streamed answer."""
        completion_id, ids = self._ids(item, number)
        return payloads.completion(
            item,
            request=call.request,
            completion_id=completion_id,
            tool_call_ids=ids,
            prompt=prompt_tokens(call),
        )

    def events(self, item: Answer, call: RecordedCall, number: int) -> Iterator[bytes]:
        """Every SSE frame of a streamed answer, the closing one included."""
        completion_id, ids = self._ids(item, number)
        stream = payloads.ChunkStream(call.request, completion_id, prompt_tokens(call))
        for chunk in stream.chunks(item, ids):
            yield sse_frame(chunk)
        yield b"data: [DONE]\n\n"

    def opening(self, call: RecordedCall, number: int) -> bytes:
        """The first frame of a stream, alone (what a malformed stream starts with)."""
        completion_id, _ = self._ids(Reply(""), number)
        return sse_frame(payloads.ChunkStream(call.request, completion_id).opening())

    def closing(self) -> bytes:
        """What ends a stream after a malformed line ("" when the format has no terminator)."""
        return b"data: [DONE]\n\n"

    def broken(self, line: str) -> bytes:
        """A scripted malformed SSE line as a frame."""
        return line.encode() + b"\n\n"

    def error(
        self,
        status: int,
        message: str,
        *,
        kind: ErrorKind,
        headers: dict[str, str] | None = None,
        param: str | None = None,
        code: str | None = None,
    ) -> Response:
        error_type, default_code = OPENAI_ERRORS[kind]
        body = payloads.error_body(
            message, error_type=error_type, code=code or default_code, param=param
        )
        return Response(body, status_code=status, media_type=JSON, headers=headers)

    def _ids(self, item: Answer, number: int) -> tuple[str, list[str]]:
        if isinstance(item, Reply):
            return f"chatcmpl-fake-{number}", []
        ids = [c.call_id or f"call_fake_{number}_{i}" for i, c in enumerate(item.calls)]
        return f"chatcmpl-fake-{number}", ids


class ResponsesDialect(Dialect):
    """The OpenAI Responses API (`/v1/responses`)."""

    api: Api = "responses"

    def body(self, item: Answer, call: RecordedCall, number: int) -> bytes:
        ids = responses_payloads.ids_for(number, item)
        return responses_payloads.body(item, call.request, ids, prompt=prompt_tokens(call))

    def events(self, item: Answer, call: RecordedCall, number: int) -> Iterator[bytes]:
        ids = responses_payloads.ids_for(number, item)
        stream = responses_payloads.EventStream(call.request, ids, prompt_tokens(call))
        for event in stream.events(item):
            yield sse_frame(responses_payloads.dump(event), event=getattr(event, "type", None))

    def opening(self, call: RecordedCall, number: int) -> bytes:
        ids = responses_payloads.ids_for(number, Reply(""))
        stream = responses_payloads.EventStream(call.request, ids, prompt_tokens(call))
        first = next(stream.opening())
        return sse_frame(responses_payloads.dump(first), event="response.created")

    def closing(self) -> bytes:
        return b""

    def conversation(
        self, item: Answer, call: RecordedCall, number: int
    ) -> list[dict[str, object]]:
        """The conversation a later `previous_response_id` stands for: this call's, then the answer.

        Without this call's `instructions`: OpenAI does not carry them over to the next response.
        """
        ids = responses_payloads.ids_for(number, item)
        text = item.text if isinstance(item, Reply) else item.content
        answer: dict[str, object] = {"role": "assistant", "content": text}
        if isinstance(item, ToolCalls):
            answer["tool_calls"] = [
                normalize.tool_call(call_id, c.name, c.arguments)
                for c, call_id in zip(item.calls, ids.calls, strict=True)
            ]
        return [*call.history, *normalize.response_input(call.request), answer]

    def response_id(self, item: Answer, number: int) -> str:
        return responses_payloads.ids_for(number, item).response


class MessagesDialect(Dialect):
    """Anthropic's Messages API (`/v1/messages`).

    Its payloads are built with the anthropic SDK's types, whose import takes seconds: each method
    imports them when first called, so an app (and a test session) that only speaks OpenAI's
    dialects never pays for it.
    """

    api: Api = "messages"

    def broken(self, line: str) -> bytes:
        """Named as a delta: the anthropic SDK skips a frame whose event it does not know."""
        if line.startswith("event:"):
            return super().broken(line)
        return b"event: content_block_delta\n" + super().broken(line)

    def body(self, item: Answer, call: RecordedCall, number: int) -> bytes:
        from agent_testkit.fake_llm import anthropic_payloads

        message_id, ids = anthropic_payloads.ids_for(number, item)
        return anthropic_payloads.body(
            item, call.request, message_id, ids, prompt=prompt_tokens(call)
        )

    def events(self, item: Answer, call: RecordedCall, number: int) -> Iterator[bytes]:
        from agent_testkit.fake_llm import anthropic_payloads

        message_id, ids = anthropic_payloads.ids_for(number, item)
        pinged = False
        for event in anthropic_payloads.events(
            item, call.request, message_id, ids, prompt=prompt_tokens(call)
        ):
            kind = getattr(event, "type", None)
            yield sse_frame(anthropic_payloads.dump(event), event=kind)
            if kind == "content_block_start" and not pinged:
                # as in Anthropic's documented stream: a keep-alive `ping` after the first block opens
                pinged = True
                yield sse_frame(b'{"type": "ping"}', event="ping")

    def opening(self, call: RecordedCall, number: int) -> bytes:
        from agent_testkit.fake_llm import anthropic_payloads

        message_id, _ = anthropic_payloads.ids_for(number, Reply(""))
        first = anthropic_payloads.opening(call.request, message_id, prompt=prompt_tokens(call))
        return sse_frame(anthropic_payloads.dump(first), event="message_start")

    def closing(self) -> bytes:
        return b""

    def error(
        self,
        status: int,
        message: str,
        *,
        kind: ErrorKind,
        headers: dict[str, str] | None = None,
        param: str | None = None,
        code: str | None = None,
    ) -> Response:
        from agent_testkit.fake_llm import anthropic_payloads

        request_id = f"req_fake_{kind}"
        body = anthropic_payloads.error_body(status, message, request_id=request_id)
        headers = {"request-id": request_id, **(headers or {})}
        return Response(body, status_code=status, media_type=JSON, headers=headers)


CHAT = Dialect()
RESPONSES = ResponsesDialect()
MESSAGES = MessagesDialect()


def json_body(value: object) -> bytes:
    return json.dumps(value).encode()
