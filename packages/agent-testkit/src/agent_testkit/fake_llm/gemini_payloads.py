"""Google's Gemini API (`POST /v1beta/models/{model}:generateContent` and `:streamGenerateContent`), the
fourth wire format, as `google-genai`'s default client speaks it.

A reply is a candidate whose `content.parts` hold one `text` part; tool calls are `functionCall` parts
(`name`, `args` as an object; an `id` only when scripted), all with `finishReason: "STOP"` as Gemini sends them. Streamed
(`?alt=sse`), each SSE `data:` frame is a whole `GenerateContentResponse` carrying the next words; a
function call arrives whole in one frame, and the last frame has the finish reason and `usageMetadata`.
Errors use Google's envelope: `{"error": {"code", "message", "status"}}`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from starlette.responses import Response

from agent_testkit.fake_llm.dialects import (
    JSON,
    Answer,
    Dialect,
    ErrorKind,
    prompt_tokens,
    sse_frame,
)
from agent_testkit.fake_llm.normalize import Api
from agent_testkit.fake_llm.payloads import completion_tokens, split_text
from agent_testkit.fake_llm.recording import RecordedCall
from agent_testkit.fake_llm.script import Reply

STATUSES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
FINISH_REASONS = {"stop": "STOP", "length": "MAX_TOKENS", "tool_calls": "STOP"}


def _arguments(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return {}  # `args` is an object on the wire: invalid scripted JSON arrives empty


def _parts(item: Answer) -> list[dict[str, Any]]:
    if isinstance(item, Reply):
        return [{"text": item.text}]
    parts: list[dict[str, Any]] = [{"text": item.content}] if item.content else []
    for tool_call in item.calls:
        function_call = {"name": tool_call.name, "args": _arguments(tool_call.arguments)}
        if tool_call.call_id:  # the Gemini API sends no call ids unless one is scripted
            function_call["id"] = tool_call.call_id
        parts.append({"functionCall": function_call})
    return parts


def _usage(prompt: int, item: Answer) -> dict[str, int]:
    output = completion_tokens(item)
    return {
        "promptTokenCount": prompt,
        "candidatesTokenCount": output,
        "totalTokenCount": prompt + output,
    }


def _response(
    call: RecordedCall, response_id: str, parts: list[dict[str, Any]], **extra: Any
) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
    candidate.update({k: v for k, v in extra.items() if k == "finishReason"})
    body: dict[str, Any] = {"candidates": [candidate]}
    body.update({k: v for k, v in extra.items() if k == "usageMetadata"})
    return {**body, "modelVersion": call.model or "gemini-fake", "responseId": response_id}


class GeminiDialect(Dialect):
    """generateContent and streamGenerateContent (`?alt=sse`)."""

    api: Api = "gemini"

    def body(self, item: Answer, call: RecordedCall, number: int) -> bytes:
        response_id, _ = self._ids(item, number)
        finish = FINISH_REASONS.get(_finish(item), "STOP")
        body = _response(
            call,
            response_id,
            _parts(item),
            finishReason=finish,
            usageMetadata=_usage(prompt_tokens(call), item),
        )
        return json.dumps(body).encode()

    def events(self, item: Answer, call: RecordedCall, number: int) -> Iterator[bytes]:
        response_id, _ = self._ids(item, number)
        parts = _parts(item)
        texts = split_text(parts[0]["text"]) if parts and "text" in parts[0] else []
        calls = [p for p in parts if "functionCall" in p]
        for text in texts[:-1] if not calls else texts:
            yield self._frame(call, response_id, [{"text": text}])
        last = calls or [{"text": texts[-1] if texts else ""}]
        finish = FINISH_REASONS.get(_finish(item), "STOP")
        usage = _usage(prompt_tokens(call), item)
        yield self._frame(call, response_id, last, finishReason=finish, usageMetadata=usage)

    def _frame(
        self, call: RecordedCall, response_id: str, parts: list[dict[str, Any]], **extra: Any
    ) -> bytes:
        return sse_frame(json.dumps(_response(call, response_id, parts, **extra)).encode())

    def opening(self, call: RecordedCall, number: int) -> bytes:
        response_id, _ = self._ids(Reply(""), number)
        return self._frame(call, response_id, [{"text": ""}])

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
        fallback = "INTERNAL" if status >= 500 else "FAILED_PRECONDITION"
        error = {"code": status, "message": message, "status": STATUSES.get(status, fallback)}
        body = json.dumps({"error": error}).encode()
        return Response(body, status_code=status, media_type=JSON, headers=headers)

    def _ids(self, item: Answer, number: int) -> tuple[str, list[str]]:
        return f"gemini-fake-{number}", []


def _finish(item: Answer) -> str:
    return item.finish_reason if isinstance(item, Reply) else "tool_calls"


GEMINI = GeminiDialect()
