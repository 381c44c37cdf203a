"""A user's view of the fake: one way to call a chat model per client kind, and what came back.

Loaded by the user suites that the kit's own tests run through pytester; every failure is reduced to a
`Failure(kind)` so one assertion covers the openai SDK and plain httpx/httpx2 alike.
"""

from __future__ import annotations

import json
import ssl
from dataclasses import dataclass, field
from typing import Any

import httpx
import httpx2
import openai

from agent_testkit import aiter_sse, iter_sse

MESSAGES = [
    {"role": "system", "content": "You manage tasks."},
    {"role": "user", "content": "Add a high-priority task"},
]
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "create_task",
            "parameters": {"type": "object", "properties": {"title": {"type": "string"}}},
        },
    }
]
SDK_KINDS = ["openai-async", "openai-sync", "openai-async-httpx", "openai-sync-httpx"]
PLAIN_KINDS = ["httpx-async", "httpx-sync", "httpx2-async", "httpx2-sync"]
KINDS = SDK_KINDS + PLAIN_KINDS
# One TLS context for every client: building one per client costs ~20 ms, most of this suite's time.
TLS = ssl.create_default_context()


@dataclass
class Answer:
    text: str | None = None
    tool_calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    tool_call_ids: list[str] = field(default_factory=list)
    finish_reason: str | None = None
    usage: dict[str, Any] | None = None
    chunks: list[dict[str, Any]] = field(default_factory=list)


class Failure(Exception):
    def __init__(self, kind: str, status: int | None = None, headers: Any = None) -> None:
        super().__init__(kind, status)
        self.kind, self.status, self.headers = kind, status, headers


def _from_message(message: dict[str, Any], finish: str, usage: Any) -> Answer:
    calls = message.get("tool_calls") or []
    return Answer(
        text=message.get("content"),
        tool_calls=[(c["function"]["name"], json.loads(c["function"]["arguments"])) for c in calls],
        tool_call_ids=[c["id"] for c in calls],
        finish_reason=finish,
        usage=usage,
    )


def _from_chunks(chunks: list[dict[str, Any]]) -> Answer:
    text: str | None = None
    calls: dict[int, dict[str, Any]] = {}
    answer = Answer(chunks=chunks)
    for chunk in chunks:
        answer.usage = chunk.get("usage") or answer.usage
        for choice in chunk["choices"]:
            delta = choice["delta"]
            if delta.get("content") is not None:
                text = (text or "") + delta["content"]
            for tc in delta.get("tool_calls") or []:
                call = calls.setdefault(tc["index"], {"id": None, "name": None, "arguments": ""})
                call["id"] = tc.get("id") or call["id"]
                fn = tc.get("function") or {}
                call["name"] = fn.get("name") or call["name"]
                call["arguments"] += fn.get("arguments") or ""
            answer.finish_reason = choice.get("finish_reason") or answer.finish_reason
    answer.text = text
    ordered = [calls[i] for i in sorted(calls)]
    answer.tool_calls = [(c["name"], json.loads(c["arguments"])) for c in ordered]
    answer.tool_call_ids = [c["id"] for c in ordered]
    return answer


def _request(stream: bool, extra: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {"model": "gpt-test", "messages": MESSAGES, "tools": TOOLS, **extra}
    if stream:
        body |= {"stream": True, "stream_options": {"include_usage": True}}
    return body


# A call that should succeed is not timed: a loaded machine once took over 2 s to start an
# in-process answer. Hangs are bounded by pytest-timeout; the timeout test passes its own 0.1 s.
ANSWER_TIMEOUT_S = 30.0


async def ask(
    kind: str,
    base_url: str,
    *,
    stream: bool = False,
    read_timeout: float = ANSWER_TIMEOUT_S,
    **extra: Any,
) -> Answer:
    """One chat completion through the given client kind; raises Failure for anything but an answer."""
    if kind in SDK_KINDS:
        return await _ask_sdk(kind, base_url, stream=stream, read_timeout=read_timeout, extra=extra)
    return await _ask_plain(kind, base_url, stream=stream, read_timeout=read_timeout, extra=extra)


def _sdk_client(kind: str, base_url: str, timeout: float) -> Any:
    options: dict[str, Any] = {
        "base_url": base_url,
        "api_key": "sk-test",
        "max_retries": 0,
        "timeout": timeout,
    }
    if kind == "openai-async":  # the SDK's default client (httpx2), given only a shared TLS context
        return openai.AsyncOpenAI(**options, http_client=openai.DefaultAsyncHttpxClient(verify=TLS))
    if kind == "openai-sync":
        return openai.OpenAI(**options, http_client=openai.DefaultHttpxClient(verify=TLS))
    if kind == "openai-async-httpx":
        return openai.AsyncOpenAI(
            **options, http_client=httpx.AsyncClient(timeout=timeout, verify=TLS)
        )
    return openai.OpenAI(**options, http_client=httpx.Client(timeout=timeout, verify=TLS))


async def _ask_sdk(
    kind: str, base_url: str, *, stream: bool, read_timeout: float, extra: dict[str, Any]
) -> Answer:
    client = _sdk_client(kind, base_url, read_timeout)
    try:
        if kind.startswith("openai-async"):
            async with client:
                return await _sdk_async(client, _request(stream, extra))
        with client:
            return _sdk_sync(client, _request(stream, extra))
    except openai.APIStatusError as exc:
        raise Failure("status", exc.status_code, exc.response.headers) from exc
    except openai.APITimeoutError as exc:
        raise Failure("timeout") from exc
    except openai.APIConnectionError as exc:
        raise Failure("connection") from exc
    except json.JSONDecodeError as exc:
        raise Failure("malformed") from exc


async def _sdk_async(client: Any, body: dict[str, Any]) -> Answer:
    result = await client.chat.completions.create(**body)
    if body.get("stream"):
        return _from_chunks([chunk.model_dump(exclude_unset=True) async for chunk in result])
    return _sdk_answer(result)


def _sdk_sync(client: Any, body: dict[str, Any]) -> Answer:
    result = client.chat.completions.create(**body)
    if body.get("stream"):
        return _from_chunks([chunk.model_dump(exclude_unset=True) for chunk in result])
    return _sdk_answer(result)


def _sdk_answer(completion: Any) -> Answer:
    data = completion.model_dump(exclude_unset=True)
    choice = data["choices"][0]
    return _from_message(choice["message"], choice["finish_reason"], data.get("usage"))


def _plain_client(kind: str, timeout: float) -> Any:
    module = httpx2 if kind.startswith("httpx2") else httpx
    headers = {"Authorization": "Bearer sk-test"}
    if kind.endswith("async"):
        return module.AsyncClient(timeout=timeout, headers=headers, verify=TLS)
    return module.Client(timeout=timeout, headers=headers, verify=TLS)


async def _ask_plain(
    kind: str, base_url: str, *, stream: bool, read_timeout: float, extra: dict[str, Any]
) -> Answer:
    module = httpx2 if kind.startswith("httpx2") else httpx
    url = base_url + "/chat/completions"
    body = _request(stream, extra)
    try:
        if kind.endswith("async"):
            async with (
                _plain_client(kind, read_timeout) as client,
                client.stream("POST", url, json=body) as r,
            ):
                if r.status_code >= 400:
                    raise Failure("status", r.status_code, r.headers)
                if stream:
                    return _from_chunks(
                        [e.json() async for e in aiter_sse(r) if e.data != "[DONE]"]
                    )
                return _plain_answer(json.loads(await r.aread()))
        with (
            _plain_client(kind, read_timeout) as client,
            client.stream("POST", url, json=body) as r,
        ):
            if r.status_code >= 400:
                raise Failure("status", r.status_code, r.headers)
            if stream:
                return _from_chunks([e.json() for e in iter_sse(r) if e.data != "[DONE]"])
            return _plain_answer(json.loads(r.read()))
    except module.TimeoutException as exc:
        raise Failure("timeout") from exc
    except module.TransportError as exc:
        raise Failure("connection") from exc
    except json.JSONDecodeError as exc:
        raise Failure("malformed") from exc


def _plain_answer(data: dict[str, Any]) -> Answer:
    choice = data["choices"][0]
    return _from_message(choice["message"], choice["finish_reason"], data.get("usage"))
