"""/api/runs (background): start an assistant's run and get it at once (202), join it with a
deadline, answer its client-side tool calls. Status, events and cancel are the runs' routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from agent_service.agents.dependencies import LLMDep
from agent_service.assistants.turns import assistant_turn
from agent_service.background import service
from agent_service.background.schemas import (
    BackgroundRunCreate,
    BackgroundRunPublic,
    ToolOutputsRequest,
)
from agent_service.deps import CurrentUser, SessionDep
from agent_service.llm.messages import ChatMessage
from agent_service.run_webhooks import service as webhooks
from agent_service.run_webhooks.targets import check_webhook_url
from agent_service.runs.dependencies import ADMITTED, ExecutorDep, OwnedRun

router = APIRouter(prefix="/api/runs", tags=["runs"])


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=BackgroundRunPublic,
    dependencies=ADMITTED,
)
async def create_background_run(
    body: BackgroundRunCreate,
    user: CurrentUser,
    session: SessionDep,
    llm: LLMDep,
    executor: ExecutorDep,
) -> BackgroundRunPublic:
    """Start an assistant on `input` and answer at once with the run: poll GET /api/runs/{id},
    follow /events, join with /wait, or get its end posted to `webhook`."""
    if body.webhook is not None:
        await check_webhook_url(body.webhook, allow_private=executor.settings.webhook_allow_private)
        await webhooks.require_secret(session, user.id)
    conversation, origin = await assistant_turn(
        session,
        llm,
        user,
        assistant_id=body.assistant_id,
        version=body.assistant_version,
        conversation_id=body.conversation_id,
        new_conversation=True,
        webhook=body.webhook,
    )
    messages = [ChatMessage(m.role, m.content) for m in body.input]
    run = await executor.start_run(
        session,
        conversation,
        messages,
        stream=True,
        strategy=body.multitask_strategy,
        origin=origin,
    )
    return await service.run_with_output(session, run)


@router.get("/{run_id}/wait", response_model=BackgroundRunPublic)
async def wait_for_run(
    run: OwnedRun,
    session: SessionDep,
    executor: ExecutorDep,
    timeout_s: Annotated[float, Query(gt=0, le=300)] = 30.0,
) -> BackgroundRunPublic:
    """Join the run: the run once it ended or waits for you (`requires_action`), or as it is
    when `timeout_s` passed (poll again)."""
    await session.commit()  # no transaction stays open while the run goes on
    await service.join(executor, run.id, timeout_s=timeout_s)
    await session.refresh(run)
    return await service.run_with_output(session, run)


@router.post(
    "/{run_id}/tool_outputs",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=BackgroundRunPublic,
)
async def submit_tool_outputs(
    run: OwnedRun, body: ToolOutputsRequest, session: SessionDep, executor: ExecutorDep
) -> BackgroundRunPublic:
    """Answer the client-side function calls a run waits on (`required_action`); it continues,
    on whichever replica gets this (follow /events or /wait)."""
    decisions = service.decisions_for(run, body)
    resumed = await executor.resume(session, run, decisions)
    return await service.run_with_output(session, resumed)
