"""OpenAI wire payloads, built from the openai SDK's own types so they are shaped right by construction.

Token counts are a deterministic estimate (about four characters a token): good enough for code that
adds usage up, and stable across runs.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
import struct
import time
from collections.abc import Iterator
from typing import Any

from openai.types import CompletionUsage, CreateEmbeddingResponse, Embedding, Model
from openai.types.chat import ChatCompletion, ChatCompletionChunk, ChatCompletionMessage
from openai.types.chat.chat_completion import Choice
from openai.types.chat.chat_completion_chunk import Choice as ChunkChoice
from openai.types.chat.chat_completion_chunk import (
    ChoiceDelta,
    ChoiceDeltaToolCall,
    ChoiceDeltaToolCallFunction,
)
from openai.types.chat.chat_completion_message_function_tool_call import (
    ChatCompletionMessageFunctionToolCall,
    Function,
)
from openai.types.completion_usage import CompletionTokensDetails, PromptTokensDetails
from openai.types.create_embedding_response import Usage as EmbeddingUsage

from agent_testkit.fake_llm.recording import content_text
from agent_testkit.fake_llm.script import Reply, ToolCall, ToolCalls

ARGUMENT_FRAGMENT = 8
_WORDS = re.compile(r"\s*\S+\s*|\s+")


def count_tokens(text: str | None) -> int:
    return math.ceil(len(text) / 4) if text else 0


def prompt_tokens(messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> int:
    """An estimate of the prompt size: message text, tool-call arguments and tool schemas."""
    total = 0
    for message in messages:
        total += 4 + count_tokens(content_text(message.get("content")))
        for tc in message.get("tool_calls") or []:
            total += count_tokens(json.dumps(tc.get("function", {})))
    for tool in tools:
        total += count_tokens(json.dumps(tool))
    return total


def completion_tokens(item: Reply | ToolCalls) -> int:
    if isinstance(item, Reply):
        return count_tokens(item.text)
    calls = sum(count_tokens(c.name) + count_tokens(c.arguments) for c in item.calls)
    return calls + count_tokens(item.content)


def usage(prompt: int, item: Reply | ToolCalls) -> CompletionUsage:
    completion = completion_tokens(item)
    return CompletionUsage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=prompt + completion,
        prompt_tokens_details=PromptTokensDetails(cached_tokens=0, audio_tokens=0),
        completion_tokens_details=CompletionTokensDetails(
            reasoning_tokens=0,
            audio_tokens=0,
            accepted_prediction_tokens=0,
            rejected_prediction_tokens=0,
        ),
    )


def _message(item: Reply | ToolCalls, ids: list[str]) -> ChatCompletionMessage:
    if isinstance(item, Reply):
        return ChatCompletionMessage(
            role="assistant", content=item.text, refusal=None, annotations=[]
        )
    calls = [
        ChatCompletionMessageFunctionToolCall(
            id=call_id, type="function", function=Function(name=c.name, arguments=c.arguments)
        )
        for c, call_id in zip(item.calls, ids, strict=True)
    ]
    return ChatCompletionMessage(
        role="assistant", content=item.content, refusal=None, tool_calls=list(calls), annotations=[]
    )


def finish_reason(item: Reply | ToolCalls) -> Any:
    return item.finish_reason if isinstance(item, Reply) else "tool_calls"


def completion(
    item: Reply | ToolCalls,
    *,
    request: dict[str, Any],
    completion_id: str,
    tool_call_ids: list[str],
    prompt: int,
) -> bytes:
    """The JSON body of a non-streamed chat completion."""
    body = ChatCompletion(
        id=completion_id,
        object="chat.completion",
        created=int(time.time()),
        model=str(request.get("model") or "fake-model"),
        choices=[
            Choice(
                index=0,
                message=_message(item, tool_call_ids),
                logprobs=None,
                finish_reason=finish_reason(item),
            )
        ],
        usage=usage(prompt, item),
        service_tier="default",
    )
    return body.model_dump_json(exclude_unset=True).encode()


def split_text(text: str) -> list[str]:
    """Word-sized deltas, as a model streams them; joined they give back `text` exactly."""
    return _WORDS.findall(text) or [""]


def split_arguments(arguments: str) -> list[str]:
    return [
        arguments[i : i + ARGUMENT_FRAGMENT] for i in range(0, len(arguments), ARGUMENT_FRAGMENT)
    ]


class ChunkStream:
    """Builds the `chat.completion.chunk` sequence for one answer."""

    def __init__(self, request: dict[str, Any], completion_id: str, prompt: int = 0) -> None:
        self.request = request
        self.prompt = prompt
        self.completion_id = completion_id
        self.created = int(time.time())
        self.model = str(request.get("model") or "fake-model")
        options = request.get("stream_options") or {}
        self.include_usage = bool(options.get("include_usage"))

    def chunk(self, delta: ChoiceDelta, finish: Any = None) -> bytes:
        choice = ChunkChoice(index=0, delta=delta, finish_reason=finish)
        return self._dump(ChatCompletionChunk(**self._head(), choices=[choice]))

    def _head(self) -> dict[str, Any]:
        head: dict[str, Any] = {
            "id": self.completion_id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "service_tier": "default",
        }
        if self.include_usage:
            head["usage"] = None
        return head

    def _dump(self, chunk: ChatCompletionChunk) -> bytes:
        return chunk.model_dump_json(exclude_unset=True).encode()

    def opening(self, content: str | None = "") -> bytes:
        """The first chunk: the assistant role, before any content."""
        return self.chunk(ChoiceDelta(role="assistant", content=content, refusal=None))

    def usage_chunk(self, item: Reply | ToolCalls) -> bytes:
        head = self._head() | {"usage": usage(self.prompt, item)}
        return self._dump(ChatCompletionChunk(**head, choices=[]))

    def chunks(self, item: Reply | ToolCalls, tool_call_ids: list[str]) -> Iterator[bytes]:
        """Every chunk's JSON, in order: role, deltas or tool-call fragments, finish, usage."""
        if isinstance(item, Reply):
            yield self.opening()
            for piece in split_text(item.text):
                yield self.chunk(ChoiceDelta(content=piece))
        else:
            yield from self._tool_call_chunks(item, tool_call_ids)
        yield self.chunk(ChoiceDelta(), finish_reason(item))
        if self.include_usage:
            yield self.usage_chunk(item)

    def _tool_call_chunks(self, item: ToolCalls, ids: list[str]) -> Iterator[bytes]:
        yield self.opening(item.content)
        for index, (call, call_id) in enumerate(zip(item.calls, ids, strict=True)):
            yield self.chunk(ChoiceDelta(tool_calls=[_opening(index, call, call_id)]))
        fragments = [split_arguments(c.arguments) for c in item.calls]
        for step in range(max(len(f) for f in fragments)):
            for index, parts in enumerate(fragments):
                if step < len(parts):
                    fn = ChoiceDeltaToolCallFunction(arguments=parts[step])
                    yield self.chunk(
                        ChoiceDelta(tool_calls=[ChoiceDeltaToolCall(index=index, function=fn)])
                    )


def _opening(index: int, call: ToolCall, call_id: str) -> ChoiceDeltaToolCall:
    fn = ChoiceDeltaToolCallFunction(name=call.name, arguments="")
    return ChoiceDeltaToolCall(index=index, id=call_id, type="function", function=fn)


def error_body(
    message: str, *, error_type: str, code: str | None, param: str | None = None
) -> bytes:
    """OpenAI's error envelope: `{"error": {"message", "type", "param", "code"}}`."""
    return json.dumps(
        {"error": {"message": message, "type": error_type, "param": param, "code": code}}
    ).encode()


def embedding_vector(text: str, dimensions: int) -> list[float]:
    """A unit vector derived from the text's SHA-256: the same text always gives the same vector."""
    raw = b""
    counter = 0
    while len(raw) < dimensions * 4:
        raw += hashlib.sha256(f"{counter}:{text}".encode()).digest()
        counter += 1
    values = [(b / 255.0) * 2 - 1 for b in raw[: dimensions * 4 : 4]]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [v / norm for v in values]


def embeddings(request: dict[str, Any], default_dimensions: int) -> bytes:
    """The body of `POST /v1/embeddings`; base64 when asked (the SDK asks by default), floats otherwise."""
    inputs = request.get("input")
    texts = [inputs] if isinstance(inputs, str) else [str(i) for i in inputs or []]
    dimensions = int(request.get("dimensions") or default_dimensions)
    as_base64 = request.get("encoding_format") == "base64"
    data: list[dict[str, Any]] = []
    for index, text in enumerate(texts):
        vector = embedding_vector(text, dimensions)
        encoded: Any = vector
        if as_base64:
            encoded = base64.b64encode(struct.pack(f"<{dimensions}f", *vector)).decode()
        data.append({"object": "embedding", "index": index, "embedding": encoded})
    tokens = sum(count_tokens(t) for t in texts)
    body = CreateEmbeddingResponse.model_construct(
        object="list",
        model=str(request.get("model") or "fake-embedding"),
        data=[Embedding.model_construct(**d) for d in data],
        usage=EmbeddingUsage(prompt_tokens=tokens, total_tokens=tokens),
    )
    return body.model_dump_json(warnings=False).encode()


def anthropic_models(names: list[str]) -> bytes:
    """The body of Anthropic's `GET /v1/models`: `ModelInfo`s in a page with `first_id`/`last_id`."""
    data = [
        {
            "type": "model",
            "id": name,
            "display_name": name,
            "created_at": "2025-01-01T00:00:00Z",
            "lifecycle": "active",
        }
        for name in names
    ]
    page = {
        "data": data,
        "has_more": False,
        "first_id": names[0] if names else None,
        "last_id": names[-1] if names else None,
    }
    return json.dumps(page).encode()


def models(names: list[str]) -> bytes:
    """The body of OpenAI's `GET /v1/models`."""
    data = [
        Model(id=n, object="model", created=1_700_000_000, owned_by="agent-testkit") for n in names
    ]
    return json.dumps(
        {"object": "list", "data": [m.model_dump(exclude_unset=True) for m in data]}
    ).encode()
