"""/api/runs: a chat turn's status, its events (replayed and followed), cancel and approval."""

from __future__ import annotations

import contextlib
from typing import Annotated, Any

from fastapi import APIRouter, Header, Response
from sse_starlette import EventSourceResponse

from agent_service.bounds import parse_header_int
from agent_service.conversations.dependencies import OwnedConversation
from agent_service.deps import CurrentUser, SessionDep
from agent_service.errors import InvalidRequest
from agent_service.pagination import PAGINATED, PageDep
from agent_service.runs import admission, service
from agent_service.runs.dependencies import ExecutorDep, OwnedRun
from agent_service.runs.exceptions import RunInProgress
from agent_service.runs.schemas import ResumeRequest, RunPublic, RunStatus
from agent_service.runs.stream import run_event_stream

router = APIRouter(prefix="/api", tags=["runs"])

CANCEL_REPLY_WAIT_S = 2.0  # how long a cancel's answer waits to say `cancelled`

SSE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/event-stream": {}}, "description": "The run's events, `id: <seq>`."},
    400: {"description": "Last-Event-ID is not an event's id (a number from 0 to 2^31-1)."},
}


@router.get("/runs", response_model=list[RunPublic], responses=PAGINATED)
async def list_runs(
    user: CurrentUser,
    session: SessionDep,
    page: PageDep,
    response: Response,
    status: RunStatus | None = None,
) -> list[RunPublic]:
    """Your runs, newest first; `status=requires_action`: the ones waiting for your approval."""
    items, total = await service.list_user_runs(
        session, user.id, status=status, limit=page.limit, offset=page.offset
    )
    page.set_headers(response, total)
    return [service.run_public(run) for run in items]


@router.get("/runs/{run_id}", response_model=RunPublic)
async def get_run(run: OwnedRun) -> RunPublic:
    """A run: its status, error, usage and the tool calls waiting for your approval."""
    return service.run_public(run)


@router.get("/runs/{run_id}/events", response_class=EventSourceResponse, responses=SSE_RESPONSES)
async def run_events(
    run: OwnedRun,
    executor: ExecutorDep,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> EventSourceResponse:
    """The run's events from the start (or after Last-Event-ID), then live until it ends."""
    return run_event_stream(executor, run.id, after=_sequence(last_event_id))


@router.post("/runs/{run_id}/cancel", status_code=202, response_model=RunPublic)
async def cancel_run(run: OwnedRun, session: SessionDep, executor: ExecutorDep) -> RunPublic:
    """Stop the run, wherever it runs; the answer shows it `cancelled` once it is (within
    CANCEL_REPLY_WAIT_S), else as it is then, with the cancel requested."""
    run_id = run.id  # a cancel that lost its race to end the run rolled back: `run` is expired
    await executor.cancel(session, run)
    with contextlib.suppress(RunInProgress):
        # the owner (here or on another replica) closes the model stream and ends the run in well
        # under a second: waiting that long lets the answer say what happened, not `running`
        await executor.wait_final(run_id, timeout_s=CANCEL_REPLY_WAIT_S)
    await session.refresh(run)
    return service.run_public(run)


@router.post("/runs/{run_id}/resume", status_code=202, response_model=RunPublic)
async def resume_run(
    run: OwnedRun, body: ResumeRequest, session: SessionDep, executor: ExecutorDep
) -> RunPublic:
    """Approve or deny the tool calls a run waits on; it continues (follow /events)."""
    resumed = await executor.resume(session, run, body.decisions)
    return service.run_public(resumed)


@router.post("/runs/{run_id}/rollback", response_model=RunPublic)
async def roll_back_run(run: OwnedRun, session: SessionDep) -> RunPublic:
    """Take back the conversation's latest run once it ended: its messages and tools' effects."""
    await admission.roll_back_latest(session, run)
    await session.refresh(run)
    return service.run_public(run)


@router.get(
    "/conversations/{conversation_id}/runs", response_model=list[RunPublic], responses=PAGINATED
)
async def list_conversation_runs(
    conversation: OwnedConversation, session: SessionDep, page: PageDep, response: Response
) -> list[RunPublic]:
    """The conversation's runs, newest first."""
    items, total = await service.list_runs(
        session, conversation.id, limit=page.limit, offset=page.offset
    )
    page.set_headers(response, total)
    return [service.run_public(run) for run in items]


def _sequence(last_event_id: str | None) -> int:
    try:
        seq = parse_header_int(last_event_id, name="Last-Event-ID")
    except ValueError as exc:
        raise InvalidRequest(f"{exc} Send an event's id, as the stream gave it.") from None
    return seq or 0
