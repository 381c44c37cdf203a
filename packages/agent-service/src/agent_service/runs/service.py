"""Run rules: who may see a run, how it is created, read, followed and ended.

The executor drives runs; this module is what every replica can do with their rows: a follower
on any replica reads `run_event` rows in `seq` order and waits for a wake-up (or a short poll)
between reads, so it sees each event exactly once whoever wrote it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncGenerator, Callable, Iterable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent_service.conversations import service as conversations
from agent_service.conversations.models import Conversation
from agent_service.db import parse_id, utcnow
from agent_service.llm.messages import ChatMessage
from agent_service.runs import lifecycle
from agent_service.runs.exceptions import RunNotFound
from agent_service.runs.models import ACTIVE_STATUSES, FINAL_STATUSES, Run, RunEvent
from agent_service.runs.notifier import (
    CommittedEvent,
    RunNotifier,
    cancel_key,
    conversation_key,
    run_key,
)
from agent_service.runs.schemas import (
    PendingToolCall,
    RequiredAction,
    RunOrigin,
    RunPublic,
    RunUsage,
)

# A follower stops after these: the run ended, or paused until someone resumes it.
STREAM_END_STATUSES = (*FINAL_STATUSES, "requires_action")
# The events a run writes in the same commit as its final status.
FINAL_EVENTS = ("message.completed", "error")
PAUSE_EVENT = "run.requires_action"  # the last event of a run that waits for approval

END_DETAILS = {
    "cancelled": "The run was cancelled before this tool call was answered.",
    "interrupted": "The server stopped while this run was working; this tool call never finished.",
    "failed": "The run failed before this tool call was answered.",
}


async def get_run(session: AsyncSession, user_id: uuid.UUID, run_id: uuid.UUID) -> Run | None:
    run = await session.get(Run, run_id)
    return run if run is not None and run.user_id == user_id else None


async def owned_run(session: AsyncSession, user_id: uuid.UUID, run_id: str) -> Run:
    """Load-or-404: an unknown, malformed or another user's run id is 404."""
    parsed = parse_id(run_id)
    run = await get_run(session, user_id, parsed) if parsed else None
    if run is None:
        raise RunNotFound(run_id)
    return run


def run_public(run: Run) -> RunPublic:
    usage = run.usage or {}
    prompt, completion = usage.get("prompt_tokens", 0), usage.get("completion_tokens", 0)
    calls = run.pending_tool_calls or ()
    pending = [
        PendingToolCall(
            id=c["id"],
            name=c["name"],
            arguments=_json(c["arguments"]),
            description=c.get("description"),
        )
        for c in calls
    ]
    client = [p for p, c in zip(pending, calls, strict=True) if c.get("client")]
    return RunPublic(
        id=run.id,
        conversation_id=run.conversation_id,
        status=run.status,
        error=run.error,
        usage=RunUsage(
            prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion
        ),
        pending_tool_calls=pending,
        required_action=RequiredAction(tool_calls=client) if client else None,
        assistant_id=run.assistant_id,
        assistant_version=run.assistant_version,
        created_at=run.created_at,
        finished_at=run.finished_at,
    )


def _json(text: str) -> dict[str, Any] | str:
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value if isinstance(value, dict) else text


async def create_run(
    session: AsyncSession,
    conversation: Conversation,
    messages: Sequence[ChatMessage],
    *,
    stream: bool,
    owner: str | None = None,
    running: bool = False,
    origin: RunOrigin | None = None,
) -> Run:
    """A queued run with its first event, `run.created` (seq 1); the caller commits.

    `owner` is the process that will drive it, written with the row (its heartbeat starts now).
    `running`: created running instead, its messages starting after the conversation's last (the
    caller appends them in the same transaction); the unique index refuses it while another run
    of the conversation runs.
    """
    now = utcnow()
    run = Run(
        id=uuid.uuid4(),
        conversation_id=conversation.id,
        user_id=conversation.user_id,
        status="running" if running else "queued",
        first_position=conversation.message_count if running else None,
        # every column set, None included: a column left unset is unloaded after the flush, and
        # the executor, taking this row as committed, would have to read it again
        error=None,
        usage=None,
        pending_tool_calls=None,
        effects=None,
        cancel_requested=False,
        finished_at=None,
        input=[{"role": m.role, "content": m.content} for m in messages],
        stream=stream,
        created_at=now,
        owner=owner,
        heartbeat_at=now if owner is not None else None,
        **_origin_columns(conversation, origin),
    )
    session.add(run)
    data = {"run_id": str(run.id), "conversation_id": str(conversation.id)}
    session.add(RunEvent(run_id=run.id, seq=1, event="run.created", data=data))
    await session.flush()
    return run


def _origin_columns(conversation: Conversation, origin: RunOrigin | None) -> dict[str, Any]:
    """Without an origin a run uses its conversation's assistant (its agent type), at the
    version the driver finds and records."""
    origin = origin or RunOrigin(conversation.agent_type)
    return {
        "assistant_id": origin.assistant_id,
        "assistant_version": origin.assistant_version,
        "webhook": origin.webhook,
        "schedule_id": origin.schedule_id,
    }


async def active_runs(session: AsyncSession, conversation_id: uuid.UUID) -> Sequence[Run]:
    """The conversation's runs that are queued, running or waiting for an approval, oldest first."""
    result = await session.execute(
        select(Run)
        .where(Run.conversation_id == conversation_id, Run.status.in_(ACTIVE_STATUSES))
        .order_by(Run.created_at, Run.id)
    )
    return result.scalars().all()


async def list_runs(
    session: AsyncSession, conversation_id: uuid.UUID, *, limit: int, offset: int
) -> tuple[Sequence[Run], int]:
    """A conversation's runs, newest first."""
    mine = Run.conversation_id == conversation_id
    total = await session.scalar(select(func.count()).select_from(Run).where(mine)) or 0
    result = await session.execute(
        select(Run).where(mine).order_by(Run.created_at.desc(), Run.id).limit(limit).offset(offset)
    )
    return result.scalars().all(), total


async def list_user_runs(
    session: AsyncSession,
    user_id: uuid.UUID,
    *,
    status: str | None,
    limit: int,
    offset: int,
) -> tuple[Sequence[Run], int]:
    """The user's runs, newest first, of one status if given (the pages count approvals)."""
    mine = [Run.user_id == user_id, *([Run.status == status] if status else [])]
    total = await session.scalar(select(func.count()).select_from(Run).where(*mine)) or 0
    result = await session.execute(
        select(Run).where(*mine).order_by(Run.created_at.desc(), Run.id).limit(limit).offset(offset)
    )
    return result.scalars().all(), total


async def read_events(session: AsyncSession, run_id: uuid.UUID, after: int) -> Sequence[RunEvent]:
    result = await session.execute(
        select(RunEvent)
        .where(RunEvent.run_id == run_id, RunEvent.seq > after)
        .order_by(RunEvent.seq)
    )
    return result.scalars().all()


async def last_seq(session: AsyncSession, run_id: uuid.UUID) -> int:
    return int(
        await session.scalar(select(func.max(RunEvent.seq)).where(RunEvent.run_id == run_id)) or 0
    )


async def follow_events(
    sessionmaker: async_sessionmaker[AsyncSession],
    notifier: RunNotifier,
    run_id: uuid.UUID,
    *,
    after: int = 0,
    poll_s: float = 1.0,
    on_read: Callable[[], None] | None = None,
) -> AsyncGenerator[CommittedEvent, None]:
    """Every event after `after`, then live ones until the run ends (or pauses for approval).

    One read per wake-up: events this process just committed come from memory, others from one
    query; a wake-up that memory shows brought nothing new (PostgreSQL echoing our own commit)
    reads nothing. `message.completed` and `error` commit with the run's final status, so seeing
    one is seeing the end. When nothing new is there, the status is read, then the events once more:
    once a final status is seen, the events read after it are all there are. `on_read` is called
    after each read the database answered.
    """
    last = after
    woken_up = False  # by a wake-up (not the poll's timeout): the memory may answer alone
    while True:
        with notifier.watch(run_key(run_id)) as woken:
            events = notifier.recent(run_id, last)
            ended = False  # the run is gone, finished or paused: what is read now is all there is
            if not events and not (woken_up and notifier.has_nothing_after(run_id, last)):
                async with sessionmaker() as session:
                    events = await _committed(session, run_id, last)
                    if not events:
                        status = await session.scalar(select(Run.status).where(Run.id == run_id))
                        ended = status is None or status in STREAM_END_STATUSES
                        if ended:
                            events = await _committed(session, run_id, last)
                if on_read is not None:
                    on_read()
            for event in events:
                last = event.seq
                yield event
                if event.event in FINAL_EVENTS:
                    return
            if ended:
                return
            woken_up = False
            if events and events[-1].event == PAUSE_EVENT:
                # paused, unless resumed since: no wake-up would come to say so, so the status
                # is read now (the rows, once more, if it was resumed) rather than at the poll
                continue
            # watched since before the read: whatever commits after it wakes this follower; a
            # poll that times out always reads the rows
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(poll_s):
                    await woken.wait()
                    woken_up = True


async def _committed(session: AsyncSession, run_id: uuid.UUID, after: int) -> list[CommittedEvent]:
    return [
        CommittedEvent(r.seq, r.event, r.data) for r in await read_events(session, run_id, after)
    ]


async def request_cancel(session: AsyncSession, notifier: RunNotifier, run: Run) -> None:
    """Ask for the run to stop (its owner, wherever it runs, learns it); the caller commits."""
    await session.execute(
        update(Run)
        .where(Run.id == run.id, Run.status.in_(ACTIVE_STATUSES))
        .values(cancel_requested=True)
    )
    await notifier.announce(session, cancel_key(run.id))


async def end_run(
    session: AsyncSession,
    notifier: RunNotifier,
    run: Run,
    *,
    status: str,
    error: dict[str, Any] | None,
    owner: str | None,
    events: Sequence[RunEvent] = (),
    error_seq: int,
    where: Iterable[ColumnElement[bool]] = (),
) -> bool:
    """Close a run that will not finish normally, if it is still as loaded and still `owner`'s
    (whether it was); the caller commits (then wakes followers), or rolls back when it was not.

    `owner` is whom the caller ends it as: the process that drives it (its lease holder) ending
    its own run, or the owner a sweep or a cancel found. A replica back after its run was taken
    over ends nothing: the run is another's. The status moves by one conditional UPDATE
    (`lifecycle.transition`). Open tool calls of its
    conversation get a synthetic result saying why, so the next turn's history is one a strict
    OpenAI-compatible server accepts; the `error` event (at `error_seq`, after the buffered
    `events`) tells followers. `where` adds conditions the row must still meet.
    """
    ended = await lifecycle.transition(
        session,
        run,
        from_=run.status,
        to=status,
        where=[Run.owner.is_not_distinct_from(owner), *where],
        error=error,
        pending_tool_calls=None,
        owner=None,
        finished_at=utcnow(),
    )
    if not ended:
        return False
    conversation = await session.get(Conversation, run.conversation_id)
    if conversation is not None and run.first_position is not None:
        await conversations.answer_open_tool_calls(
            session, conversation, error=status, detail=END_DETAILS.get(status, status)
        )
    session.add_all(events)
    if error is not None:
        public = {"error": error["error"], "detail": error["detail"]}
        session.add(RunEvent(run_id=run.id, seq=error_seq, event="error", data=public))
    await notifier.announce(session, run_key(run.id), conversation_key(run.conversation_id))
    await session.flush()
    return True
