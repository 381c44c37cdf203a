"""Background runs: a run's answer read back, a run joined until it stops (with a deadline),
client tool outputs turned into the decisions a paused run resumes with, and the completion
webhook enqueued in the transaction that gives a run its final status."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import inspect as sa_inspect
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from agent_service.background.exceptions import NotAClientToolCall
from agent_service.background.schemas import BackgroundRunPublic, ToolOutputsRequest
from agent_service.conversations.models import Message
from agent_service.run_webhooks import service as webhooks
from agent_service.runs import service as runs
from agent_service.runs.exceptions import RunNotAwaitingApproval
from agent_service.runs.executor import RunExecutor
from agent_service.runs.models import Run
from agent_service.runs.schemas import Decision, ToolOutputDecision


async def output_of(session: AsyncSession, run: Run) -> str | None:
    """The text of a completed run's answer (its last assistant message)."""
    if run.status != "completed" or run.first_position is None:
        return None
    return await session.scalar(
        select(Message.content)
        .where(
            Message.conversation_id == run.conversation_id,
            Message.position >= run.first_position,
            Message.role == "assistant",
        )
        .order_by(Message.position.desc())
        .limit(1)
    )


async def run_with_output(session: AsyncSession, run: Run) -> BackgroundRunPublic:
    public = runs.run_public(run)
    return BackgroundRunPublic(**public.model_dump(), output=await output_of(session, run))


async def join(executor: RunExecutor, run_id: uuid.UUID, *, timeout_s: float) -> None:
    """Return when the run ended or paused for the client, or when `timeout_s` passed: it
    follows the run's events (woken by their commits, from any replica)."""
    followed = runs.follow_events(
        executor.sessionmaker, executor.notifier, run_id, poll_s=executor.settings.run_poll_s
    )
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout_s):
            async for _event in followed:
                pass


def decisions_for(run: Run, body: ToolOutputsRequest) -> list[Decision]:
    """The outputs as decisions (400 for a call that is not a pending client-side one); the
    executor checks that every pending call is answered once."""
    if run.status != "requires_action":
        raise RunNotAwaitingApproval(run.id, run.status)
    client = {c["id"] for c in run.pending_tool_calls or () if c.get("client")}
    for output in body.tool_outputs:
        if output.tool_call_id not in client:
            raise NotAClientToolCall(output.tool_call_id)
    outputs: Sequence[Decision] = [
        ToolOutputDecision(tool_call_id=o.tool_call_id, approve=True, output=o.output)
        for o in body.tool_outputs
    ]
    return [*outputs, *body.decisions]


async def enqueue_run_webhook(session: AsyncSession, run: Run | uuid.UUID, status: str) -> None:
    """In the transaction that gives the run its final status: a delivery to the run's webhook,
    if it named one, so that one exists exactly when the final status does. Its body (the run:
    status, output, usage) is written at the first attempt, from the committed run."""
    if isinstance(run, Run) and "webhook" not in sa_inspect(run).unloaded and run.webhook is None:
        return  # the usual case: no query
    run_id = run.id if isinstance(run, Run) else run
    row = (
        await session.execute(select(Run.webhook, Run.user_id).where(Run.id == run_id))
    ).one_or_none()
    if row is None or row.webhook is None:
        return
    await webhooks.enqueue_delivery(
        session,
        user_id=row.user_id,
        url=row.webhook,
        event_type=f"run.{status}",
        data=None,
        run_id=run_id,
    )


async def run_event_data(session: AsyncSession, run_id: uuid.UUID) -> dict[str, Any] | None:
    """What a run's webhook carries: the run with its output, as committed."""
    run = await session.get(Run, run_id)
    if run is None:
        return None
    data: dict[str, Any] = (await run_with_output(session, run)).model_dump(mode="json")
    return data
