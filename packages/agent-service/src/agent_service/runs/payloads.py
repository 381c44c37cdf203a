"""The JSON a run stores and streams: tool calls and results as events, usage, stored errors."""

from __future__ import annotations

import json
import uuid
from typing import Any

import anyio
from sqlalchemy.ext.asyncio import AsyncSession

from agent_service.agents.tool import ToolOutcome
from agent_service.errors import AppError
from agent_service.llm.messages import ToolCallRequest, Usage
from agent_service.runs.models import RunEvent


def call_json(call: ToolCallRequest, description: str | None = None) -> dict[str, Any]:
    return {
        "id": call.id,
        "name": call.name,
        "arguments": call.arguments,
        "description": description,
    }


def call_event(call: ToolCallRequest) -> dict[str, Any]:
    return {"id": call.id, "name": call.name, "arguments": json_or_text(call.arguments)}


def result_event(outcome: ToolOutcome) -> dict[str, Any]:
    return {
        "id": outcome.call.id,
        "name": outcome.call.name,
        "result": json_or_text(outcome.content),
        "is_error": outcome.is_error,
    }


def copy_event(row: RunEvent) -> RunEvent:
    """A new row with the same values: a failed attempt's rows were expunged by its rollback."""
    return RunEvent(run_id=row.run_id, seq=row.seq, event=row.event, data=row.data)


def json_or_text(text: str) -> Any:
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value if isinstance(value, dict) else text


def usage_json(usage: Usage, *, total: bool = False) -> dict[str, int]:
    body = {"prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens}
    if total:
        body["total_tokens"] = usage.total_tokens
    return body


def app_error(exc: AppError) -> dict[str, Any]:
    return {**exc.body(), "status_code": exc.status_code, "headers": exc.headers or {}}


def internal_error(run_id: uuid.UUID) -> dict[str, Any]:
    detail = f"Something went wrong on our side. Quote run id {str(run_id)!r} to report it."
    return {"error": "internal_error", "detail": detail, "status_code": 500}


def end_error(status: str) -> dict[str, Any]:
    """The stored error of a run that was stopped: cancelled by a person, or interrupted."""
    if status == "cancelled":
        return {
            "error": "run_cancelled",
            "detail": "The run was cancelled; what it finished before is kept.",
            "status_code": 409,
        }
    return {
        "error": "run_interrupted",
        "detail": "The server stopped while this run was working; send your message again.",
        "status_code": 503,
        "headers": {"Retry-After": "1"},
    }


async def commit_shielded(session: AsyncSession) -> None:
    """A commit a cancel cannot cut in half (what it stores is then known to be stored or not)."""
    with anyio.CancelScope(shield=True):
        await session.commit()
