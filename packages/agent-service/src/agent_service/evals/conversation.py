"""A case's user turns, sent through the service's HTTP API, and what came back as a transcript turn.

A turn is a message for the case's agent (`POST /api/agents/{agent}/chat`, continuing the same
conversation), the same streamed (`{message: ..., stream: true}`: the SSE endpoint), or a question
to a document (`{ask: ..., document: <file name>}` or `document_id: ...`: `POST
/api/documents/{id}/ask`). Placeholders (`${task:Title}`) are filled in first: a user may paste an
id, even one that is not theirs.

Runs (the last chat turn's run, `${run}` in expectations): `{approve: true}` or `{approve: false,
reason: ...}` decides every tool call the run waits on (`POST /api/runs/{id}/resume`), and the turn
is the run's events from its start (`GET /api/runs/{id}/events`) until it ends; `{cancel: true}`
stops it (`POST /api/runs/{id}/cancel`); a message turn may say what happens when a run of the
conversation is still active: `{message: ..., multitask_strategy: reject}` (double texting).
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
        run_id = transcript.variables.get("run")
        if "ask" in spec:
            document_id = spec.get("document_id") or variables[f"document:{spec['document']}"]
            turn = await _ask(client, str(document_id), str(spec["ask"]))
        elif "approve" in spec:
            turn = await _resume(client, run_id, bool(spec["approve"]), spec.get("reason"))
        elif spec.get("cancel"):
            turn = await _cancel(client, run_id)
        elif spec.get("stream"):
            turn, conversation_id = await _chat_stream(
                client, agent, spec["message"], conversation_id
            )
        else:
            options = {k: v for k, v in spec.items() if k == "multitask_strategy"}
            turn, conversation_id = await _chat(
                client, agent, spec["message"], conversation_id, options
            )
        turn.latency_s = time.perf_counter() - started
        transcript.turns.append(turn)
        if conversation_id:  # for expectations: `/api/conversations/${conversation}/history`
            transcript.variables["conversation"] = conversation_id
        if isinstance(turn.body, dict) and "run_id" in turn.body:  # for `/api/runs/${run}`
            transcript.variables["run"] = str(turn.body["run_id"])
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
    client: httpx.AsyncClient,
    agent: str,
    message: str,
    conversation_id: str | None,
    options: dict[str, Any] | None = None,
) -> tuple[Turn, str | None]:
    body = _body(message, conversation_id) | (options or {})
    r = await client.post(f"/api/agents/{agent}/chat", json=body)
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
    turn, found = turn_from_events(message, events)
    return turn, found or conversation_id


def turn_from_events(message: str, events: list[Any]) -> tuple[Turn, str | None]:
    """A turn from a run's SSE events: its tool calls paired with their results, its answer."""
    turn = Turn(message, 200, body=[{"event": e.event, "data": e.data} for e in events])
    conversation_id: str | None = None
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


async def _resume(
    client: httpx.AsyncClient, run_id: str | None, approve: bool, reason: str | None
) -> Turn:
    """Decide every tool call the run waits on, then its events until it ends."""
    label = "(approve)" if approve else f"(deny: {reason or 'no reason'})"
    if run_id is None:
        return Turn(label, 0, error="no_run", detail="no earlier chat turn started a run")
    r = await client.get(f"/api/runs/{run_id}")
    if r.status_code != 200:
        return _failed(label, r)
    decision: dict[str, Any] = {"approve": approve} | ({"reason": reason} if reason else {})
    decisions = [{"tool_call_id": c["id"], **decision} for c in r.json()["pending_tool_calls"]]
    r = await client.post(f"/api/runs/{run_id}/resume", json={"decisions": decisions or [{}]})
    if r.status_code != 202:
        return _failed(label, r)
    async with client.stream("GET", f"/api/runs/{run_id}/events") as events_response:
        if events_response.status_code != 200:
            await events_response.aread()
            return _failed(label, events_response)
        events = [event async for event in aiter_sse(events_response)]
    turn, _ = turn_from_events(label, events)
    return turn


async def _cancel(client: httpx.AsyncClient, run_id: str | None) -> Turn:
    if run_id is None:
        return Turn("(cancel)", 0, error="no_run", detail="no earlier chat turn started a run")
    r = await client.post(f"/api/runs/{run_id}/cancel")
    if r.status_code != 202:
        return _failed("(cancel)", r)
    return Turn("(cancel)", 202, reply="", body=r.json())


async def _ask(client: httpx.AsyncClient, document_id: str, question: str) -> Turn:
    r = await client.post(
        f"/api/documents/{document_id}/ask", json={"question": question, "stream": False}
    )
    if r.status_code != 200:
        return _failed(question, r)
    body = r.json()
    return Turn(question, 200, reply=body["response"], usage=_usage(body.get("usage")), body=body)
