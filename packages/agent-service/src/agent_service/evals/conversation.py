"""A case's user turns, sent through the service's HTTP API, and what came back as a transcript turn.

A turn is a message for the case's agent (`POST /api/agents/{agent}/chat`, continuing the same
conversation), the same streamed (`{message: ..., stream: true}`: the SSE endpoint), or a question
to a document (`{ask: ..., document: <file name>}` or `document_id: ...`: `POST
/api/documents/{id}/ask`). Placeholders (`${task:Title}`) are filled in first: a user may paste an
id, even one that is not theirs.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import httpx

from agent_testkit.evals import ToolCallRecord, Transcript, Turn, Usage, substitute
from agent_testkit.sse import aiter_sse


async def converse(
    client: httpx.AsyncClient, agent: str, turns: tuple[Any, ...], variables: Mapping[str, str]
) -> Transcript:
    transcript = Transcript(variables=dict(variables))
    conversation_id: str | None = None
    for raw in turns:
        filled = substitute(raw, variables)
        spec: dict[str, Any] = {"message": filled} if isinstance(filled, str) else dict(filled)
        started = time.perf_counter()
        if "ask" in spec:
            document_id = spec.get("document_id") or variables[f"document:{spec['document']}"]
            turn = await _ask(client, str(document_id), str(spec["ask"]))
        elif spec.get("stream"):
            turn, conversation_id = await _chat_stream(
                client, agent, spec["message"], conversation_id
            )
        else:
            turn, conversation_id = await _chat(client, agent, spec["message"], conversation_id)
        turn.latency_s = time.perf_counter() - started
        transcript.turns.append(turn)
        if conversation_id:  # for expectations: `/api/conversations/${conversation}/history`
            transcript.variables["conversation"] = conversation_id
    return transcript


def _body(message: str, conversation_id: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {"messages": [{"role": "user", "content": message}]}
    if conversation_id:
        body["conversation_id"] = conversation_id
    return body


def _usage(data: Mapping[str, Any] | None) -> Usage:
    data = data or {}
    return Usage(
        int(data.get("prompt_tokens", 0)),
        int(data.get("completion_tokens", 0)),
        int(data.get("total_tokens", 0)),
    )


def _failed(message: str, response: httpx.Response) -> Turn:
    try:
        body = response.json()
    except ValueError:
        body = {"error": "not_json", "detail": response.text[:300]}
    return Turn(
        message,
        response.status_code,
        error=body.get("error"),
        detail=body.get("detail"),
        body=body,
    )


async def _chat(
    client: httpx.AsyncClient, agent: str, message: str, conversation_id: str | None
) -> tuple[Turn, str | None]:
    r = await client.post(f"/api/agents/{agent}/chat", json=_body(message, conversation_id))
    if r.status_code != 200:
        return _failed(message, r), conversation_id
    body = r.json()
    calls = [
        ToolCallRecord(c["name"], c["arguments"], c["result"], bool(c["is_error"]))
        for c in body["tool_calls"]
    ]
    turn = Turn(
        message,
        200,
        reply=body["response"],
        tool_calls=calls,
        usage=_usage(body["usage"]),
        body=body,
    )
    return turn, str(body["conversation_id"])


async def _chat_stream(
    client: httpx.AsyncClient, agent: str, message: str, conversation_id: str | None
) -> tuple[Turn, str | None]:
    url = f"/api/agents/{agent}/chat/stream"
    async with client.stream("POST", url, json=_body(message, conversation_id)) as r:
        if r.status_code != 200:
            await r.aread()
            return _failed(message, r), conversation_id
        events = [event async for event in aiter_sse(r)]
    turn = Turn(message, 200, body=[{"event": e.event, "data": e.data} for e in events])
    started: dict[str, tuple[str, Any]] = {}
    for event in events:
        data = event.json() if event.data else {}
        if event.event == "tool.call":
            started[data["id"]] = (data["name"], data["arguments"])
        elif event.event == "tool.result":
            name, arguments = started.get(data["id"], (data["name"], None))
            turn.tool_calls.append(
                ToolCallRecord(name, arguments, data["result"], bool(data["is_error"]))
            )
        elif event.event == "message.completed":
            turn.reply, turn.usage = data["response"], _usage(data.get("usage"))
            conversation_id = str(data["conversation_id"])
        elif event.event == "error":
            turn.error, turn.detail = data.get("error"), data.get("detail")
    return turn, conversation_id


async def _ask(client: httpx.AsyncClient, document_id: str, question: str) -> Turn:
    r = await client.post(
        f"/api/documents/{document_id}/ask", json={"question": question, "stream": False}
    )
    if r.status_code != 200:
        return _failed(question, r)
    body = r.json()
    return Turn(question, 200, reply=body["response"], usage=_usage(body.get("usage")), body=body)
