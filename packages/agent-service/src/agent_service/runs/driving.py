"""Driving a run: the agent loop walked, what it yields stored (text in batches, each tool step
with its events in one transaction), a pause for approval, and the way out to `ending`.

The agent loop stays free of HTTP and storage. Cancellation is an anyio cancel scope per run:
a cancel (or a cancel request seen by NOTIFY or by the heartbeat's poll) cancels it, which
closes the model stream; the end of the run is written shielded.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import uuid
from collections.abc import Sequence
from typing import Any

import anyio
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from agent_service.agents.loop import (
    ApprovalRequired,
    FinalAnswer,
    ToolCallStarted,
    ToolStep,
    run_agent,
)
from agent_service.agents.tool import Toolbox, ToolOutcome, error_outcome
from agent_service.assistants.running import RunAgent, agent_for_run, client_outcome
from agent_service.conversations import service as conversations
from agent_service.conversations.models import Conversation
from agent_service.conversations.service import NewMessage
from agent_service.db import utcnow
from agent_service.errors import AppError, DatabaseBusy, database_unavailable
from agent_service.llm.messages import ChatMessage, TextDelta, ToolCallRequest, Usage
from agent_service.runs import ending, lifecycle, payloads, scheduling, takeover
from agent_service.runs.exceptions import RunLost
from agent_service.runs.host import RunHost, RunState, WriteRetry
from agent_service.runs.models import Run
from agent_service.runs.notifier import run_key
from agent_service.runs.schemas import Decision, ToolOutputDecision

logger = logging.getLogger("agent_service.runs")

REWALKS = 3  # steps made again after outages, per run


async def drive(
    host: RunHost,
    run_id: uuid.UUID,
    conversation_id: uuid.UUID,
    decisions: list[Decision] | None = None,
    prepared: tuple[Run, Conversation] | None = None,
    *,
    taking_over: bool = False,
) -> None:
    """`prepared`: the rows of a run created running (`admission`), as committed;
    `taking_over`: a running run whose process died, continued from its last committed step."""
    try:
        await _drive_in_session(host, run_id, conversation_id, decisions, prepared, taking_over)
    finally:
        host.notifier.forget(run_id)  # not driven here any more: followers read the rows


async def _drive_in_session(
    host: RunHost,
    run_id: uuid.UUID,
    conversation_id: uuid.UUID,
    decisions: list[Decision] | None,
    prepared: tuple[Run, Conversation] | None,
    taking_over: bool,
) -> None:
    async with host.sessionmaker() as session:
        state: RunState | None = None
        with anyio.CancelScope() as scope:
            host.scopes[run_id] = scope
            try:
                state = await scheduling.prepare(
                    host,
                    session,
                    run_id,
                    conversation_id,
                    resuming=decisions is not None or taking_over,
                    prepared=prepared,
                )
                if state is None:
                    return
                async with state.writer.flushing():
                    if decisions is not None:
                        await _apply_decisions(host, session, state, decisions)
                    await _walk_through_outages(host, session, state)
            except anyio.get_cancelled_exc_class():
                pass  # ended below, shielded
            except RunLost:
                logger.warning("run %s was ended elsewhere while this process drove it", run_id)
                return
            except AppError as exc:
                error = payloads.app_error(exc)
                await ending.end(host, session, run_id, state, "failed", error)
            except Exception as exc:
                busy = database_unavailable(exc)
                if busy is None:
                    logger.exception("run %s failed", run_id)
                    error = payloads.internal_error(run_id)
                else:  # a step could not commit: what it did rolled back with it
                    logger.warning("run %s failed: the database is away", run_id, exc_info=True)
                    error = payloads.app_error(busy)
                await ending.end(host, session, run_id, state, "failed", error)
            finally:
                host.scopes.pop(run_id, None)
        if scope.cancelled_caught or scope.cancel_called:
            if host.stopping and await takeover.hand_over(host, session, run_id):
                if state is not None:  # the tokens this process used, as an end counts them
                    with anyio.CancelScope(shield=True):
                        await ending.record_usage(host, state)
                return
            status = "interrupted" if host.stopping else "cancelled"
            await ending.end(host, session, run_id, state, status, payloads.end_error(status))


async def _walk_through_outages(host: RunHost, session: AsyncSession, state: RunState) -> None:
    """Walk the run; a step that could not commit because the database was away (its messages,
    effects and events rolled back together) is made again from the last committed step once
    the database is back, when that is safe (`takeover.continuable`), up to `REWALKS` times."""
    run_id = state.run.id  # read now: a failed commit expires the row
    for attempt in itertools.count(1):
        try:
            await _walk(host, session, state)
            return
        except (SQLAlchemyError, DatabaseBusy) as exc:  # a tool's insert says DatabaseBusy
            busy = isinstance(exc, DatabaseBusy) or database_unavailable(exc) is not None
            if attempt > REWALKS or not busy:
                raise
            async with state.writer.lock:  # what the lost step streamed was never stored
                state.writer.drop_uncommitted(state.writer.next_seq)
            if not await _back_after_outage(host, session, state, run_id):
                raise
            logger.warning(
                "run %s: a step could not commit while the database was away; "
                "going on from its last committed step",
                run_id,
            )


async def _back_after_outage(
    host: RunHost, session: AsyncSession, state: RunState, run_id: uuid.UUID
) -> bool:
    """Wait for the database (the run stalled meanwhile); whether the run can go on here."""
    retry = WriteRetry(host, run_id, give_up_s=host.settings.run_final_store_s)
    while True:
        try:
            with contextlib.suppress(SQLAlchemyError, OSError):
                await session.rollback()
            # a write, not a read: the database takes writes again (SQLite's lock is free), and
            # the run is still this process's (the lease renewed with it)
            mine = [Run.owner == host.owner]
            if not await lifecycle.hold(
                session, run_id, status="running", where=mine, heartbeat_at=utcnow()
            ):
                raise RunLost(run_id)
            await session.refresh(state.run)
            await session.refresh(state.conversation)
            safe = await takeover.continuable(session, state.run)
            await session.commit()
            retry.done()
            return safe
        except SQLAlchemyError as exc:
            if not await retry.again(exc):
                return False


async def _walk(host: RunHost, session: AsyncSession, state: RunState) -> None:
    # the run's assistant at its version (MCP servers listed now), recorded with the next commit
    setup = await agent_for_run(session, host.settings, host.model, state.run, state.conversation)
    history = await conversations.history(session, state.conversation)
    await session.commit()  # no transaction stays open while the model works
    toolbox = Toolbox(setup.tools, state.context)
    loop = run_agent(
        setup.model,
        setup.agent,
        history,
        toolbox,
        max_steps=host.settings.agent_max_steps,
        stream=state.run.stream,
    )
    writer = state.writer
    async with contextlib.aclosing(loop) as events:
        async for event in events:
            if isinstance(event, TextDelta):
                writer.add("message.delta", {"delta": event.text})
            elif isinstance(event, ToolCallStarted):
                if not writer.in_step:
                    await writer.flush()  # the text so far, before a tool opens a transaction
                    writer.in_step = True
                writer.add("tool.call", payloads.call_event(event.call))
            elif isinstance(event, ToolStep):
                await _store_step(host, session, state, event.message, event.outcomes, event.usage)
            elif isinstance(event, ApprovalRequired):
                await _pause(host, session, state, event, toolbox, setup)
                return
            elif isinstance(event, FinalAnswer):
                await ending.complete(host, session, state, event)
                return


async def _store_step(
    host: RunHost,
    session: AsyncSession,
    state: RunState,
    message: ChatMessage | None,
    outcomes: Sequence[ToolOutcome],
    usage: Usage,
    *,
    extra_events: Sequence[tuple[str, dict[str, Any]]] = (),
    pause: bool = False,
) -> None:
    """A step's messages, its tools' effects and its events, in one shielded commit; `pause`:
    the run waits for approval (running → requires_action) in the same commit."""
    writer = state.writer
    for outcome in outcomes:
        writer.add("tool.result", payloads.result_event(outcome))
    for name, data in extra_events:
        writer.add(name, data)
    state.usage += usage
    with anyio.CancelScope(shield=True):
        async with writer.lock:
            first_seq = writer.next_seq
            try:
                await _commit_step(host, session, state, message, outcomes, usage, pause=pause)
            except BaseException:
                # nothing of the step was stored, nor seen: its events go too, so the run's
                # next event (its end, or the step made again) follows the last one stored
                writer.drop_uncommitted(first_seq)
                raise
            writer.in_step = False
    host.notifier.wake(run_key(state.run.id))


async def _commit_step(
    host: RunHost,
    session: AsyncSession,
    state: RunState,
    message: ChatMessage | None,
    outcomes: Sequence[ToolOutcome],
    usage: Usage,
    *,
    pause: bool,
) -> None:
    writer = state.writer
    new = [NewMessage(message, usage=usage)] if message is not None else []
    new += [
        NewMessage(o.as_message(), tool_name=o.call.name, is_error=o.is_error) for o in outcomes
    ]
    await conversations.append_messages(session, state.conversation, new)
    run = state.run
    values: dict[str, Any] = {"usage": payloads.usage_json(state.usage)}
    if state.context.effects:
        values["effects"] = [*(run.effects or []), *state.context.effects]
        state.context.effects.clear()
    # still this process's run (not swept and taken over meanwhile): the step commits
    # only then, and renews the lease with it
    mine = [Run.owner == host.owner]
    if pause:
        kept = await lifecycle.transition(
            session,
            run,
            from_="running",
            to="requires_action",
            where=mine,
            owner=None,
            **values,
        )
    else:
        kept = await lifecycle.hold(
            session, run, status="running", where=mine, heartbeat_at=utcnow(), **values
        )
    if not kept:
        await session.rollback()
        raise RunLost(run.id)
    rows = writer.take()
    session.add_all(rows)
    await host.notifier.announce(session, run_key(run.id))
    await payloads.commit_shielded(session)
    writer.published(rows)


async def _pause(
    host: RunHost,
    session: AsyncSession,
    state: RunState,
    event: ApprovalRequired,
    toolbox: Toolbox,
    setup: RunAgent,
) -> None:
    """Store the step so far and wait, without a task, for the user's decisions (or, for
    client-side functions, marked `client`, their outputs); each call carries its tool's
    description of it in words, for the person asked."""
    described = [(call, await toolbox.describe(call)) for call in event.awaiting]
    state.run.pending_tool_calls = [
        {**payloads.call_json(c, words), **({"client": True} if setup.client_side(c.name) else {})}
        for c, words in described
    ]
    calls = [{**payloads.call_event(c), "description": words} for c, words in described]
    data = {"run_id": str(state.run.id), "tool_calls": calls}
    await _store_step(
        host,
        session,
        state,
        event.message,
        event.outcomes,
        event.usage,
        extra_events=[("run.requires_action", data)],
        pause=True,
    )
    await ending.record_usage(host, state)


async def _apply_decisions(
    host: RunHost, session: AsyncSession, state: RunState, decisions: Sequence[Decision]
) -> None:
    """Call the approved tools, answer the denied ones with the user's reason, as one step."""
    pending = {call["id"]: call for call in state.run.pending_tool_calls or ()}
    setup = await agent_for_run(session, host.settings, host.model, state.run, state.conversation)
    toolbox = Toolbox(setup.tools, state.context)
    outcomes = []
    for decision in decisions:
        call = pending[decision.tool_call_id]
        request = ToolCallRequest(call["id"], call["name"], call["arguments"])
        if isinstance(decision, ToolOutputDecision) or call.get("client"):
            outcomes.append(client_outcome(request, decision))
        elif decision.approve:
            outcomes.append(await toolbox.call(request))
        else:
            detail = "The user denied this call; do not retry it unless they ask again."
            reason = {"reason": decision.reason} if decision.reason else {}
            outcomes.append(error_outcome(request, "denied", detail, **reason))
    state.run.pending_tool_calls = None
    await _store_step(host, session, state, None, outcomes, Usage())
