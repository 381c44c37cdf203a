"""How a run ends: its answer stored with `message.completed` (the final write), or a final status
with the history repaired (failed, cancelled, interrupted), and its tokens counted.

Every end is shielded from cancellation: a cancel arriving during the final write must not lose
the answer, and a run cut short must still record why.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from typing import Any

import anyio
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from agent_service.agents.loop import FinalAnswer
from agent_service.conversations import service as conversations
from agent_service.conversations.exceptions import ConversationBusy
from agent_service.conversations.service import NewMessage
from agent_service.db import utcnow
from agent_service.runs import hooks, lifecycle, payloads, settlement
from agent_service.runs import service as runs
from agent_service.runs.exceptions import RunLost, UsageNotCounted
from agent_service.runs.host import RunHost, RunState, WriteRetry
from agent_service.runs.models import FINAL_STATUSES, Run, RunEvent
from agent_service.runs.notifier import conversation_key, run_key

logger = logging.getLogger("agent_service.runs")


async def end_idle(
    host: RunHost, session: AsyncSession, run: Run, status: str, *, unrenewed: bool = False
) -> None:
    """End a run no task here drives (paused for approval, queued, or its process died), unless
    another ended it first. With `unrenewed` (a sweep), only if its heartbeat is still the one
    it was found with: an owner that renewed its lease meanwhile is alive and keeps the run."""
    error_seq = await runs.last_seq(session, run.id) + 1
    ended = await runs.end_run(
        session,
        host.notifier,
        run,
        status=status,
        error=payloads.end_error(status),
        owner=run.owner,  # still the owner it was found with (not taken over meanwhile)
        error_seq=error_seq,
        where=[Run.heartbeat_at.is_not_distinct_from(run.heartbeat_at)] if unrenewed else (),
    )
    if not ended:
        await session.rollback()  # the UPDATE matched no row: nothing to keep
        return
    await session.commit()
    host.notifier.wake(run_key(run.id), conversation_key(run.conversation_id))
    await settlement.count_streamed(host, run.id, run.user_id)  # a dead process's last words


async def end(
    host: RunHost,
    session: AsyncSession,
    run_id: uuid.UUID,
    state: RunState | None,
    status: str,
    error: dict[str, Any] | None,
) -> None:
    """End a run that did not finish: its buffered events, repaired history and final status,
    retried until the database takes them (`WriteRetry`)."""
    retry = WriteRetry(host, run_id, give_up_s=host.settings.run_final_store_s)
    with anyio.CancelScope(shield=True):
        while True:
            try:
                run = await _end_once(host, session, run_id, state, status, error)
                break
            except SQLAlchemyError as exc:
                if not await retry.again(exc):
                    logger.exception("could not record the end of run %s", run_id)
                    return
                logger.warning(
                    "could not record the end of run %s (attempt %d, %s); retrying",
                    run_id,
                    retry.attempts,
                    _reason(exc),
                )
        retry.done()
        if run is None:
            return
        host.notifier.wake(run_key(run_id), conversation_key(run.conversation_id))
        if state is not None:
            await record_usage(host, state)
        await settlement.count_streamed(host, run_id, run.user_id)  # the answer cut short


async def _roll_back(session: AsyncSession) -> None:
    """After a failed write: the session starts over (on a lost connection the rollback itself
    may fail; the next use reconnects all the same)."""
    with contextlib.suppress(SQLAlchemyError, OSError):
        await session.rollback()


def _reason(exc: BaseException) -> str:
    return type(getattr(exc, "orig", None) or exc).__name__


async def _end_once(
    host: RunHost,
    session: AsyncSession,
    run_id: uuid.UUID,
    state: RunState | None,
    status: str,
    error: dict[str, Any] | None,
) -> Run | None:
    # each attempt starts from a clean session: the walk's error or the last attempt's may
    # have left its transaction failed; the rollback also expires the rows, so `get` reads them
    await _roll_back(session)
    run = await session.get(Run, run_id)
    if run is None or run.status in FINAL_STATUSES:
        return None
    if state is None:
        error_seq = await runs.last_seq(session, run_id) + 1
        ended = await runs.end_run(
            session,
            host.notifier,
            run,
            status=status,
            error=error,
            owner=host.owner,
            error_seq=error_seq,
        )
    else:
        async with state.writer.lock:
            checkpoint = state.writer.checkpoint()
            rows = state.writer.take()
            run.usage = payloads.usage_json(state.usage)
            try:
                ended = await runs.end_run(
                    session,
                    host.notifier,
                    run,
                    status=status,
                    error=error,
                    owner=host.owner,  # a run taken over meanwhile is not this process's to end
                    events=rows,
                    error_seq=state.writer.next_seq,
                )
                if ended:
                    await session.commit()
            except SQLAlchemyError:
                state.writer.rewind(checkpoint)  # the events go with the next attempt
                raise
    if not ended:
        await session.rollback()  # the UPDATE matched no row: nothing to keep
        logger.warning(
            "run %s was taken over or ended elsewhere; its end (%s) is dropped", run_id, status
        )
        return None
    if state is None:
        await session.commit()
    return run


async def complete(
    host: RunHost, session: AsyncSession, state: RunState, event: FinalAnswer
) -> None:
    """The answer, `message.completed` and the final status in one commit, retried; never lost.

    While the database is away the write is tried again until it answers (`WriteRetry`); an
    error it gives itself past `run_final_store_s` ends the run `failed` with the answer kept
    in its events. A cancel arriving meanwhile does not cut the write short.
    """
    state.usage += event.usage
    writer = state.writer
    # a failed attempt's rollback expires the rows: what the retries need is read first
    run_id, conversation_id = state.run.id, state.run.conversation_id
    retry = WriteRetry(host, run_id, give_up_s=host.settings.run_final_store_s)
    with anyio.CancelScope(shield=True):
        async with writer.lock:
            pending_rows = writer.take()
            with_count = True  # the tokens go with the answer unless the count was refused
            expired = False  # a rollback expired the conversation: read it again first
            while True:
                try:
                    if expired:
                        await session.refresh(state.conversation)
                    await _store_answer(
                        host, session, run_id, state, event, pending_rows, with_count=with_count
                    )
                    break
                except UsageNotCounted:
                    await _roll_back(session)
                    logger.warning(
                        "could not count the usage of run %s with its answer; "
                        "storing the answer alone",
                        run_id,
                        exc_info=True,
                    )
                    with_count = False  # counted after the answer, by record_usage
                    expired = True
                except RunLost:
                    await _roll_back(session)
                    logger.warning("run %s was ended elsewhere; its answer is dropped", run_id)
                    retry.done()
                    return
                # ConversationBusy is how the append reports any integrity error (a
                # trigger, a constraint added by hand): the answer is kept all the same
                except (SQLAlchemyError, ConversationBusy) as exc:
                    await _roll_back(session)
                    expired = True
                    if not await retry.again(exc):
                        logger.exception("could not store the answer of run %s", run_id)
                        if await _fail_keeping_answer(host, run_id, pending_rows, event, state):
                            await record_usage(host, state)  # the answer's tokens were spent
                        return
                    logger.warning(
                        "could not store the answer of run %s (attempt %d, %s); retrying",
                        run_id,
                        retry.attempts,
                        _reason(exc),
                    )
    retry.done()
    host.notifier.wake(run_key(run_id), conversation_key(conversation_id))
    await record_usage(host, state)


async def record_usage(host: RunHost, state: RunState) -> None:
    """Count the tokens used since the last count (a run paused for approval counts twice)."""
    new = state.uncounted()
    state.recorded = state.usage  # a second call would count nothing
    if new.total_tokens > 0:
        await hooks.after_run(host.sessionmaker, host.settings, state.user_id, new)


async def _store_answer(
    host: RunHost,
    session: AsyncSession,
    run_id: uuid.UUID,
    state: RunState,
    event: FinalAnswer,
    rows: list[RunEvent],
    *,
    with_count: bool,
) -> None:
    run = await session.get(Run, run_id)
    assert run is not None
    # first: a run ended elsewhere (a cancel, a sweep) meanwhile is let go, whatever else fails
    mine = [Run.owner == host.owner]  # not taken over by another replica meanwhile
    if not await lifecycle.transition(
        session, run, from_="running", to="completed", where=mine, owner=None, finished_at=utcnow()
    ):
        raise RunLost(run_id)
    answer = NewMessage(event.message, usage=event.usage)
    [message] = await conversations.append_messages(session, state.conversation, [answer])
    completed = {
        "response": event.message.content or "",
        "conversation_id": str(state.conversation.id),
        "message_id": str(message.id),
        "usage": payloads.usage_json(state.usage, total=True),
    }
    # after the rows `take()` numbered, and not moved here: an attempt that fails and the next
    # one give `message.completed` the same number (moving it made a gap in the ids on a retry)
    seq = state.writer.next_seq
    fresh = [payloads.copy_event(r) for r in rows]
    fresh.append(RunEvent(run_id=run.id, seq=seq, event="message.completed", data=completed))
    session.add_all(fresh)
    run.usage = payloads.usage_json(state.usage)
    if with_count:
        await session.flush()  # our rows first: what fails in the count is the count's
        await hooks.count_with_answer(session, run.user_id, state.uncounted())
    await host.notifier.announce(session, run_key(run.id), conversation_key(run.conversation_id))
    await session.commit()
    if with_count:
        state.recorded = state.usage
    state.writer.published(fresh)


async def _fail_keeping_answer(
    host: RunHost, run_id: uuid.UUID, rows: list[RunEvent], event: FinalAnswer, state: RunState
) -> bool:
    """The answer could not be stored as a message: keep it in the run's events at least, and
    say so in the run's error (retried while the database is away). False when that could not
    be written either: the run is left stalled, so its lease runs out and a replica sweeps it."""
    retry = WriteRetry(host, run_id, give_up_s=host.settings.run_final_store_s)
    while True:
        try:
            await _fail_once(host, run_id, rows, event, state)
            break
        except SQLAlchemyError as exc:
            if not await retry.again(exc):
                logger.exception("could not record the failure of run %s", run_id)
                return False
    retry.done()
    host.notifier.wake(run_key(run_id))
    return True


async def _fail_once(
    host: RunHost, run_id: uuid.UUID, rows: list[RunEvent], event: FinalAnswer, state: RunState
) -> None:
    async with host.sessionmaker() as session:
        run = await session.get(Run, run_id)
        if run is None or run.status in FINAL_STATUSES:
            return
        run.usage = payloads.usage_json(state.usage)  # the answer's model call included
        seq = rows[-1].seq + 1 if rows else await runs.last_seq(session, run_id) + 1
        kept = [payloads.copy_event(r) for r in rows]
        error = payloads.internal_error(run_id)
        if run.stream:  # its text is in its deltas already: stored, or in `rows`
            error["detail"] += " The answer could not be stored; its text is in the deltas."
        else:
            answer = {"delta": event.message.content or ""}
            kept.append(RunEvent(run_id=run_id, seq=seq, event="message.delta", data=answer))
            error["detail"] += f" The answer could not be stored; it is kept in event {seq}."
            seq += 1
        ended = await runs.end_run(
            session,
            host.notifier,
            run,
            status="failed",
            error=error,
            owner=host.owner,
            events=kept,
            error_seq=seq,
        )
        if ended:
            await session.commit()
