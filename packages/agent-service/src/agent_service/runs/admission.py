"""Letting a run in: the process's limit, the quota's reservation, the double-texting strategy
applied to the conversation's active runs, and the run created (running at once, or queued
behind another); a paused run let back in with the user's decisions; a finished run rolled back.

Under a quota a run holds a reservation from admission to the end of its driving task (its end,
or a pause for approval), when `settlement` gives it back."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy.exc import IntegrityError, InvalidRequestError
from sqlalchemy.ext.asyncio import AsyncSession

from agent_service.agents.effects import undo_effects
from agent_service.conversations import service as conversations
from agent_service.conversations.exceptions import ConversationBusy
from agent_service.conversations.models import Conversation
from agent_service.conversations.service import NewMessage
from agent_service.db import utcnow
from agent_service.idempotency import service as idempotency
from agent_service.llm.messages import ChatMessage
from agent_service.quotas.service import Reservation
from agent_service.runs import cancelling, driving, hooks, lifecycle, settlement
from agent_service.runs import service as runs
from agent_service.runs.exceptions import (
    DecisionsMismatch,
    Overloaded,
    RunInProgress,
    RunNotAwaitingApproval,
    RunNotLatest,
)
from agent_service.runs.host import RunHost
from agent_service.runs.models import ACTIVE_STATUSES, Run
from agent_service.runs.schemas import Decision, MultitaskStrategy, RunOrigin

logger = logging.getLogger("agent_service.runs")


def admit(host: RunHost) -> None:
    """503 `overloaded` at once, rather than queue past what this process may run."""
    if len(host.tasks) >= host.settings.max_active_turns:
        raise Overloaded(host.settings.max_active_turns)


async def start_run(
    host: RunHost,
    session: AsyncSession,
    conversation: Conversation,
    messages: Sequence[ChatMessage],
    *,
    stream: bool,
    strategy: MultitaskStrategy = "enqueue",
    origin: RunOrigin | None = None,
) -> Run:
    """Create a run for the new messages, applying the double-texting strategy, and start it.

    When no other run of the conversation is left active (the usual case), the run is created
    running, with the messages it answers, in this one commit: there is nothing to claim. A run
    that lost the race for the conversation to another one started meanwhile (the unique index
    or the message positions say so) is created queued behind it, as a run enqueued behind an
    active one is, and claimed when that one ends.
    """
    admit(host)
    await hooks.before_run(session, host.settings, conversation.user_id)
    if not await _make_way(host, session, conversation, strategy):
        started = await _start_at_once(
            host, session, conversation, messages, stream=stream, origin=origin
        )
        if started is not None:
            return started
        await _make_way(host, session, conversation, strategy)  # the run that got there first
    run = await runs.create_run(
        session, conversation, messages, stream=stream, owner=host.owner, origin=origin
    )
    reservation = await _hold(host, session, run)
    await session.commit()
    settlement.spawn(host, run.id, driving.drive(host, run.id, run.conversation_id), reservation)
    return run


async def _hold(host: RunHost, session: AsyncSession, run: Run) -> Reservation | None:
    """What the transaction that creates (or resumes) a run holds with it: the request's
    idempotency key, bound to the run (a retry gets this run), and the quota's reservation, the
    transaction's last write (429 `quota_exceeded` when none is left: nothing is kept)."""
    await idempotency.bind_run(session, run.id)
    return await hooks.reserve(session, host.settings, run.user_id)


async def _start_at_once(
    host: RunHost,
    session: AsyncSession,
    conversation: Conversation,
    messages: Sequence[ChatMessage],
    *,
    stream: bool,
    origin: RunOrigin | None,
) -> Run | None:
    """Create the run running with its input messages, committed; None if another run of the
    conversation started since `_make_way` looked (nothing of this one is kept then)."""
    inputs = [NewMessage(message) for message in messages]
    try:
        run = await runs.create_run(
            session,
            conversation,
            messages,
            stream=stream,
            owner=host.owner,
            running=True,
            origin=origin,
        )
        await conversations.append_messages(session, conversation, inputs)
        reservation = await _hold(host, session, run)
    except (IntegrityError, ConversationBusy) as exc:
        await session.rollback()
        try:  # the conversation is older than this transaction, or nothing raced for it
            await session.refresh(conversation)
        except InvalidRequestError:
            raise exc from None
        logger.info(
            "a run of conversation %s started first: this one is queued behind it",
            conversation.id,
        )
        return None
    await session.commit()
    prepared = (run, conversation)
    work = driving.drive(host, run.id, run.conversation_id, prepared=prepared)
    settlement.spawn(host, run.id, work, reservation)
    return run


async def _make_way(
    host: RunHost, session: AsyncSession, conversation: Conversation, strategy: MultitaskStrategy
) -> bool:
    """Apply the strategy to the conversation's active runs; whether any is left to wait for
    (the new run is then queued behind them)."""
    active = await runs.active_runs(session, conversation.id)
    if not active:
        return False
    if strategy == "reject":
        raise RunInProgress(active[0].id)
    for run in active:
        # A run waiting for an approval is abandoned by a new message whatever the strategy
        # (the new message answers it); running and queued ones are cancelled unless enqueued.
        if strategy != "enqueue" or run.status == "requires_action":
            await cancelling.cancel(host, session, run)
    if strategy in ("interrupt", "rollback") or any(r.status == "requires_action" for r in active):
        for run in active:
            if strategy != "enqueue" or run.status == "requires_action":
                await cancelling.wait_final(host, run.id, timeout_s=10)
    if strategy == "rollback":
        for run in active:
            await roll_back(session, run)
    await session.refresh(conversation)
    return strategy == "enqueue" and any(r.status != "requires_action" for r in active)


async def roll_back_latest(session: AsyncSession, run: Run) -> None:
    """Take back a conversation's latest run once it ended (regenerate, edit and resend): its
    messages go and its tools' effects are undone; 409 while it is active or a newer one exists."""
    if run.status in ACTIVE_STATUSES:
        raise RunInProgress(run.id)
    [latest], _ = await runs.list_runs(session, run.conversation_id, limit=1, offset=0)
    if latest.id != run.id:
        raise RunNotLatest(run.id)
    await roll_back(session, run)


async def roll_back(session: AsyncSession, run: Run) -> None:
    """Remove a finished run's messages and undo its tools' effects, in one transaction."""
    ended = await session.get(Run, run.id, populate_existing=True)
    if ended is None or ended.first_position is None:
        return
    conversation = await session.get(Conversation, ended.conversation_id, populate_existing=True)
    if conversation is None:
        return
    await undo_effects(session, ended.user_id, ended.effects or [])
    await conversations.delete_messages_from(session, conversation, ended.first_position)
    ended.effects = None
    await session.commit()


async def resume(
    host: RunHost, session: AsyncSession, run: Run, decisions: Sequence[Decision]
) -> Run:
    """Continue a run paused for approval with the user's decisions (from any replica)."""
    if run.status != "requires_action":
        raise RunNotAwaitingApproval(run.id, run.status)
    expected = [call["id"] for call in run.pending_tool_calls or ()]
    given = [d.tool_call_id for d in decisions]
    if sorted(expected) != sorted(given):
        raise DecisionsMismatch(expected, given)
    admit(host)
    reservation = await _let_back_in(host, session, run)
    work = driving.drive(host, run.id, run.conversation_id, decisions=list(decisions))
    settlement.spawn(host, run.id, work, reservation)
    return run


async def _let_back_in(host: RunHost, session: AsyncSession, run: Run) -> Reservation | None:
    try:
        resumed = await lifecycle.transition(
            session,
            run.id,
            from_="requires_action",
            to="running",
            owner=host.owner,
            heartbeat_at=utcnow(),
        )
        reservation = await hooks.reserve(session, host.settings, run.user_id) if resumed else None
        await session.commit()
    except IntegrityError as exc:  # another run of the conversation is executing
        await session.rollback()
        raise RunInProgress(run.id) from exc
    await session.refresh(run)
    if not resumed:
        raise RunNotAwaitingApproval(run.id, run.status)
    return reservation
