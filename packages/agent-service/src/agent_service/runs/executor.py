"""The run executor: the one place a chat turn is driven, whoever asked for it.

A route creates a run and hands it here; the executor runs it as a task of its own, so a client
that goes away does not stop it. The agent loop stays free of HTTP and storage: the executor
stores what it yields (text coalesced into batches, each tool step with its events in one
transaction, the answer with `message.completed`), keeps its heartbeat, and ends every run with
a final status, answering tool calls it leaves open. Cancellation is an anyio cancel scope per run:
`cancel` (or a cancel request seen by NOTIFY or by the heartbeat's poll) cancels it, which closes
the model stream; the end of the run is written shielded.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import os
import socket
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import anyio
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError, InvalidRequestError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent_service.agents.effects import undo_effects
from agent_service.agents.loop import (
    ApprovalRequired,
    ChatModel,
    FinalAnswer,
    ToolCallStarted,
    ToolStep,
    run_agent,
)
from agent_service.agents.registry import get_agent_type
from agent_service.agents.tool import Toolbox, ToolContext, ToolOutcome, error_outcome
from agent_service.conversations import service as conversations
from agent_service.conversations.exceptions import ConversationBusy
from agent_service.conversations.models import Conversation
from agent_service.conversations.service import NewMessage
from agent_service.db import Base, utcnow
from agent_service.errors import AppError
from agent_service.integrations.github.access import GitHubAccess
from agent_service.llm.messages import ChatMessage, TextDelta, ToolCallRequest, Usage
from agent_service.runs import hooks
from agent_service.runs import service as runs
from agent_service.runs.exceptions import (
    DecisionsMismatch,
    Overloaded,
    RunInProgress,
    RunNotAwaitingApproval,
    UsageNotCounted,
)
from agent_service.runs.models import FINAL_STATUSES, Run, RunEvent
from agent_service.runs.notifier import RunNotifier, build_notifier, conversation_key, run_key
from agent_service.runs.schemas import Decision, MultitaskStrategy
from agent_service.runs.writer import EventBatcher, EventWriter
from agent_service.settings import Settings

logger = logging.getLogger("agent_service.runs")


@dataclass
class RunState:
    """What a run being driven holds: its rows, its writer, its usage and tool effects."""

    run: Run
    conversation: Conversation
    writer: EventWriter
    context: ToolContext
    usage: Usage = field(default_factory=Usage)
    recorded: Usage = field(default_factory=Usage)  # what the quota already counted


class RunExecutor:
    """Drives this process's runs; one per app (`app.state.runs`)."""

    def __init__(
        self,
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        model: ChatModel,
        notifier: RunNotifier,
    ) -> None:
        self.settings = settings
        self.sessionmaker = sessionmaker
        self.model = model
        self.notifier = notifier
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._tasks: dict[uuid.UUID, asyncio.Task[None]] = {}
        self._scopes: dict[uuid.UUID, anyio.CancelScope] = {}
        self._stopping = False
        self._heartbeat: asyncio.Task[None] | None = None
        self.batcher = EventBatcher(sessionmaker, notifier, interval_s=settings.run_event_batch_s)
        notifier.on_cancel = self._cancel_requested

    # -- lifetime ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Listen for wake-ups, close runs a dead process left, keep this one's heartbeat."""
        await self.notifier.start()
        try:
            await self.sweep(at_startup=True)
        except SQLAlchemyError:
            logger.exception("could not look for interrupted runs: is the database migrated?")
        self._heartbeat = asyncio.create_task(self._beat_forever(), name="run-heartbeat")

    async def stop(self) -> None:
        """Runs still working are interrupted (their histories repaired) before the exit."""
        self._stopping = True
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat
        for scope in list(self._scopes.values()):
            scope.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks.values()), timeout=10)
        await self.batcher.aclose()
        await self.notifier.stop()

    @property
    def active(self) -> int:
        return len(self._tasks)

    def admit(self) -> None:
        """503 `overloaded` at once, rather than queue past what this process may run."""
        if self.active >= self.settings.max_active_turns:
            raise Overloaded(self.settings.max_active_turns)

    # -- starting ---------------------------------------------------------------------------

    async def start_run(
        self,
        session: AsyncSession,
        conversation: Conversation,
        messages: Sequence[ChatMessage],
        *,
        stream: bool,
        strategy: MultitaskStrategy = "enqueue",
    ) -> Run:
        """Create a run for the new messages, applying the double-texting strategy, and start it.

        When no other run of the conversation is left active (the usual case), the run is created
        running, with the messages it answers, in this one commit: the executor has nothing to
        claim. A run that lost the race for the conversation to another one started meanwhile
        (the unique index or the message positions say so) is created queued behind it, as a run
        enqueued behind an active one is, and claimed when that one ends.
        """
        self.admit()
        await hooks.before_run(session, self.settings, conversation.user_id)
        if not await self._make_way(session, conversation, strategy):
            started = await self._start_at_once(session, conversation, messages, stream=stream)
            if started is not None:
                return started
            await self._make_way(session, conversation, strategy)  # the run that got there first
        run = await runs.create_run(
            session, conversation, messages, stream=stream, owner=self.owner
        )
        await session.commit()
        self._spawn(run.id, self._drive(run.id, run.conversation_id))
        return run

    async def _start_at_once(
        self,
        session: AsyncSession,
        conversation: Conversation,
        messages: Sequence[ChatMessage],
        *,
        stream: bool,
    ) -> Run | None:
        """Create the run running with its input messages, committed; None if another run of the
        conversation started since `_make_way` looked (nothing of this one is kept then)."""
        inputs = [NewMessage(message) for message in messages]
        try:
            run = await runs.create_run(
                session, conversation, messages, stream=stream, owner=self.owner, running=True
            )
            await conversations.append_messages(session, conversation, inputs)
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
        self._spawn(run.id, self._drive(run.id, run.conversation_id, prepared=prepared))
        return run

    async def _make_way(
        self, session: AsyncSession, conversation: Conversation, strategy: MultitaskStrategy
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
                await self.cancel(session, run)
        if strategy in ("interrupt", "rollback") or any(
            r.status == "requires_action" for r in active
        ):
            for run in active:
                if strategy != "enqueue" or run.status == "requires_action":
                    await self.wait_final(run.id, timeout_s=10)
        if strategy == "rollback":
            for run in active:
                await self.roll_back(session, run.id)
        await session.refresh(conversation)
        return strategy == "enqueue" and any(r.status != "requires_action" for r in active)

    async def settled(self, run_id: uuid.UUID) -> None:
        """Return once this process no longer drives the run: it ended, paused for approval or
        was interrupted (at once if it is driven elsewhere or not at all).

        A JSON reply waits here instead of following every event batch through the database;
        cancelling the caller does not cancel the run.
        """
        task = self._tasks.get(run_id)
        if task is not None:
            await asyncio.wait({task})

    def _spawn(self, run_id: uuid.UUID, work: Any) -> None:
        task = asyncio.create_task(work, name=f"run-{run_id}")
        self._tasks[run_id] = task
        task.add_done_callback(lambda _t: self._tasks.pop(run_id, None))

    # -- cancelling -------------------------------------------------------------------------

    async def cancel(self, session: AsyncSession, run: Run) -> None:
        """Ask a run to stop, on whichever replica it runs; a queued or paused one stops here."""
        await runs.request_cancel(session, self.notifier, run)
        await session.commit()
        self.notifier.wake(f"cancel:{run.id}")
        await session.refresh(run)
        if run.status == "requires_action" or (
            run.status == "queued" and run.id not in self._tasks
        ):
            await self._end_idle(session, run, "cancelled")

    def _cancel_requested(self, run_id: str) -> None:
        with contextlib.suppress(ValueError):
            scope = self._scopes.get(uuid.UUID(run_id))
            if scope is not None:
                scope.cancel()

    async def _end_idle(self, session: AsyncSession, run: Run, status: str) -> None:
        """End a run no task here drives (paused for approval, queued, or its process died)."""
        claimed = await session.execute(
            update(Run)
            .where(Run.id == run.id, Run.status == run.status)
            .values(status=status, owner=None, finished_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            await session.rollback()
            return
        await session.refresh(run)
        error_seq = await runs.last_seq(session, run.id) + 1
        await runs.end_run(
            session,
            self.notifier,
            run,
            status=status,
            error=_end_error(status),
            error_seq=error_seq,
        )
        await session.commit()
        self.notifier.wake(run_key(run.id), conversation_key(run.conversation_id))

    async def wait_final(self, run_id: uuid.UUID, *, timeout_s: float) -> None:
        """Wait until the run has a final status (or the deadline passes: 409 run_in_progress)."""
        deadline = time.monotonic() + timeout_s
        while True:
            with self.notifier.watch(run_key(run_id)) as woken:
                async with self.sessionmaker() as session:
                    status = await session.scalar(select(Run.status).where(Run.id == run_id))
                if status is None or status in FINAL_STATUSES:
                    return
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise RunInProgress(run_id)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(min(remaining, self.settings.run_poll_s)):
                        await woken.wait()

    async def roll_back(self, session: AsyncSession, run_id: uuid.UUID) -> None:
        """Remove a finished run's messages and undo its tools' effects, in one transaction."""
        run = await session.get(Run, run_id, populate_existing=True)
        if run is None or run.first_position is None:
            return
        conversation = await session.get(Conversation, run.conversation_id, populate_existing=True)
        if conversation is None:
            return
        await undo_effects(session, run.user_id, run.effects or [])
        await conversations.delete_messages_from(session, conversation, run.first_position)
        run.effects = None
        await session.commit()

    # -- approval ---------------------------------------------------------------------------

    async def resume(self, session: AsyncSession, run: Run, decisions: Sequence[Decision]) -> Run:
        """Continue a run paused for approval with the user's decisions (from any replica)."""
        if run.status != "requires_action":
            raise RunNotAwaitingApproval(run.id, run.status)
        expected = [call["id"] for call in run.pending_tool_calls or ()]
        given = [d.tool_call_id for d in decisions]
        if sorted(expected) != sorted(given):
            raise DecisionsMismatch(expected, given)
        self.admit()
        try:
            claimed = await session.execute(
                update(Run)
                .where(Run.id == run.id, Run.status == "requires_action")
                .values(status="running", owner=self.owner, heartbeat_at=utcnow())
                .execution_options(synchronize_session=False)
            )
            await session.commit()
        except IntegrityError as exc:  # another run of the conversation is executing
            await session.rollback()
            raise RunInProgress(run.id) from exc
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            await session.refresh(run)
            raise RunNotAwaitingApproval(run.id, run.status)
        await session.refresh(run)
        self._spawn(run.id, self._drive(run.id, run.conversation_id, decisions=list(decisions)))
        return run

    # -- driving ----------------------------------------------------------------------------

    async def _drive(
        self,
        run_id: uuid.UUID,
        conversation_id: uuid.UUID,
        decisions: list[Decision] | None = None,
        prepared: tuple[Run, Conversation] | None = None,
    ) -> None:
        """`prepared`: the rows of a run created running (`_start_at_once`), as committed."""
        try:
            await self._drive_in_session(run_id, conversation_id, decisions, prepared)
        finally:
            self.notifier.forget(run_id)  # not driven here any more: followers read the rows

    async def _drive_in_session(
        self,
        run_id: uuid.UUID,
        conversation_id: uuid.UUID,
        decisions: list[Decision] | None,
        prepared: tuple[Run, Conversation] | None,
    ) -> None:
        async with self.sessionmaker() as session:
            state: RunState | None = None
            with anyio.CancelScope() as scope:
                self._scopes[run_id] = scope
                try:
                    state = await self._prepare(
                        session,
                        run_id,
                        conversation_id,
                        resuming=decisions is not None,
                        prepared=prepared,
                    )
                    if state is None:
                        return
                    async with state.writer.flushing():
                        if decisions is not None:
                            await self._apply_decisions(session, state, decisions)
                        await self._walk(session, state)
                except anyio.get_cancelled_exc_class():
                    pass  # ended below, shielded
                except AppError as exc:
                    await self._end(session, run_id, state, "failed", _app_error(exc))
                except Exception:
                    logger.exception("run %s failed", run_id)
                    await self._end(session, run_id, state, "failed", _internal_error(run_id))
                finally:
                    self._scopes.pop(run_id, None)
            if scope.cancelled_caught or scope.cancel_called:
                status = "interrupted" if self._stopping else "cancelled"
                await self._end(session, run_id, state, status, _end_error(status))

    async def _prepare(
        self,
        session: AsyncSession,
        run_id: uuid.UUID,
        conversation_id: uuid.UUID,
        *,
        resuming: bool,
        prepared: tuple[Run, Conversation] | None,
    ) -> RunState | None:
        """Claim the run (waiting for the conversation's running run, if any) and store its input.

        A new run's claim and its input messages commit together: a run is never seen running
        without the messages it answers. A run created running comes with its committed rows,
        taken into this session as they are (no query).
        """
        if prepared is not None:
            return await self._take_prepared(session, *prepared)
        if resuming:
            run = await session.get(Run, run_id)
            conversation = await session.get(Conversation, conversation_id)
            if run is None or conversation is None:
                return None
            next_seq = await runs.last_seq(session, run.id) + 1
        else:
            claimed = await self._claim(session, run_id, conversation_id)
            if claimed is None:
                return None
            run, conversation = claimed
            next_seq = 2  # a queued run has only `run.created`: ending it while queued unqueues it
            inputs = [NewMessage(ChatMessage(m["role"], m["content"])) for m in run.input]
            await conversations.append_messages(session, conversation, inputs)
        writer = self.batcher.writer(run.id, next_seq=next_seq)
        context = ToolContext(session, run.user_id, GitHubAccess.from_settings(self.settings))
        usage = Usage(**(run.usage or {}))
        await self.notifier.announce(session, run_key(run.id))
        await _commit(session)
        self.notifier.wake(run_key(run.id))
        return RunState(run, conversation, writer, context, usage, recorded=usage)

    async def _take_prepared(
        self, session: AsyncSession, created: Run, conversation: Conversation
    ) -> RunState:
        """A run created running: its rows as committed, taken into this session (no query)."""
        run = await session.merge(created, load=False)
        conversation = await session.merge(conversation, load=False)
        rows: tuple[Base, ...] = (run, conversation)
        for row in rows:
            if sa_inspect(row).unloaded:  # a column its creator left to the database: read it
                await session.refresh(row)
        writer = self.batcher.writer(run.id, next_seq=2)
        context = ToolContext(session, run.user_id, GitHubAccess.from_settings(self.settings))
        self.notifier.wake(run_key(run.id))
        return RunState(run, conversation, writer, context)

    async def _claim(
        self, session: AsyncSession, run_id: uuid.UUID, conversation_id: uuid.UUID
    ) -> tuple[Run, Conversation] | None:
        """queued → running, once no other run of the conversation runs (the unique index decides).

        One `UPDATE … RETURNING` claims the run and reads it back; the conversation is read after
        it, and the caller commits. None when the run is no longer queued (cancelled while it
        waited) or its conversation is gone.

        The conversation is read after the claim, not before: once the claim holds, no other run
        of the conversation can append, and the one that ran before has committed its messages
        (on PostgreSQL the claim waited for that commit, which a read in the claim's own statement
        would not see). Read before, a run ending in between left a stale message count, and the
        claimed run failed with `conversation_busy`: two replicas answering messages sent at once
        to one conversation did.
        """
        current_count = (
            select(Conversation.message_count)
            .where(Conversation.id == conversation_id)
            .scalar_subquery()
        )
        while True:
            with self.notifier.watch(conversation_key(conversation_id)) as woken:
                claim = (
                    update(Run)
                    .where(Run.id == run_id, Run.status == "queued")
                    .values(
                        status="running",
                        owner=self.owner,
                        heartbeat_at=utcnow(),
                        first_position=current_count,
                    )
                    .returning(Run)
                    .execution_options(populate_existing=True)
                )
                try:
                    run = (await session.scalars(claim)).one_or_none()
                except IntegrityError:
                    await session.rollback()
                else:
                    conversation = None
                    if run is not None:
                        conversation = await session.get(
                            Conversation, conversation_id, populate_existing=True
                        )
                    if run is None or conversation is None:
                        await session.rollback()
                        return None
                    # where the messages start, as it is now (the same unless the claim waited)
                    run.first_position = conversation.message_count
                    return run, conversation
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.settings.run_poll_s):
                        await woken.wait()

    async def _walk(self, session: AsyncSession, state: RunState) -> None:
        agent = get_agent_type(state.conversation.agent_type)
        history = await conversations.history(session, state.conversation)
        await session.commit()  # no transaction stays open while the model works
        toolbox = Toolbox(agent.tools, state.context)
        loop = run_agent(
            self.model,
            agent,
            history,
            toolbox,
            max_steps=self.settings.agent_max_steps,
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
                    writer.add("tool.call", _call_event(event.call))
                elif isinstance(event, ToolStep):
                    await self._store_step(
                        session, state, event.message, event.outcomes, event.usage
                    )
                elif isinstance(event, ApprovalRequired):
                    await self._pause(session, state, event)
                    return
                elif isinstance(event, FinalAnswer):
                    await self._complete(session, state, event)
                    return

    async def _store_step(
        self,
        session: AsyncSession,
        state: RunState,
        message: ChatMessage | None,
        outcomes: Sequence[ToolOutcome],
        usage: Usage,
        *,
        extra_events: Sequence[tuple[str, dict[str, Any]]] = (),
        status: str | None = None,
    ) -> None:
        """A step's messages, its tools' effects and its events, in one shielded commit."""
        writer = state.writer
        for outcome in outcomes:
            writer.add("tool.result", _result_event(outcome))
        for name, data in extra_events:
            writer.add(name, data)
        state.usage += usage
        with anyio.CancelScope(shield=True):
            async with writer.lock:
                new = [NewMessage(message, usage=usage)] if message is not None else []
                new += [
                    NewMessage(o.as_message(), tool_name=o.call.name, is_error=o.is_error)
                    for o in outcomes
                ]
                await conversations.append_messages(session, state.conversation, new)
                run = state.run
                run.usage = _usage_json(state.usage)
                if state.context.effects:
                    run.effects = [*(run.effects or []), *state.context.effects]
                    state.context.effects.clear()
                if status is not None:
                    run.status = status
                rows = writer.take()
                session.add_all(rows)
                await self.notifier.announce(session, run_key(run.id))
                await _commit(session)
                writer.published(rows)
                writer.in_step = False
        self.notifier.wake(run_key(state.run.id))

    async def _pause(self, session: AsyncSession, state: RunState, event: ApprovalRequired) -> None:
        """Store the step so far and wait, without a task, for the user's decisions."""
        calls = [_call_json(call) for call in event.awaiting]
        state.run.pending_tool_calls = calls
        state.run.owner = None
        data = {"run_id": str(state.run.id), "tool_calls": [_call_event(c) for c in event.awaiting]}
        await self._store_step(
            session,
            state,
            event.message,
            event.outcomes,
            event.usage,
            extra_events=[("run.requires_action", data)],
            status="requires_action",
        )
        await self._record_usage(state)

    async def _apply_decisions(
        self, session: AsyncSession, state: RunState, decisions: Sequence[Decision]
    ) -> None:
        """Call the approved tools, answer the denied ones with the user's reason, as one step."""
        pending = {call["id"]: call for call in state.run.pending_tool_calls or ()}
        agent = get_agent_type(state.conversation.agent_type)
        toolbox = Toolbox(agent.tools, state.context)
        outcomes = []
        state.writer.in_step = True
        for decision in decisions:
            call = pending[decision.tool_call_id]
            request = ToolCallRequest(call["id"], call["name"], call["arguments"])
            if decision.approve:
                outcomes.append(await toolbox.call(request))
            else:
                detail = "The user denied this call; do not retry it unless they ask again."
                reason = {"reason": decision.reason} if decision.reason else {}
                outcomes.append(error_outcome(request, "denied", detail, **reason))
        state.run.pending_tool_calls = None
        await self._store_step(session, state, None, outcomes, Usage())

    async def _complete(self, session: AsyncSession, state: RunState, event: FinalAnswer) -> None:
        """The answer, `message.completed` and the final status in one commit, retried; never lost."""
        state.usage += event.usage
        writer = state.writer
        # a failed attempt's rollback expires the rows: what the retries need is read first
        run_id, conversation_id = state.run.id, state.run.conversation_id
        deadline = time.monotonic() + self.settings.run_final_store_s
        with anyio.CancelScope(shield=True):
            async with writer.lock:
                pending_rows = writer.take()
                with_count = True  # the tokens go with the answer unless the count was refused
                for attempt in itertools.count(1):
                    try:
                        await self._store_answer(
                            session, run_id, state, event, pending_rows, with_count=with_count
                        )
                        break
                    except UsageNotCounted:
                        await session.rollback()
                        logger.warning(
                            "could not count the usage of run %s with its answer; "
                            "storing the answer alone",
                            run_id,
                            exc_info=True,
                        )
                        with_count = False  # counted after the answer, by _record_usage
                        await session.refresh(state.conversation)
                    # ConversationBusy is how the append reports any integrity error (a
                    # trigger, a constraint added by hand): the answer is kept all the same
                    except (SQLAlchemyError, ConversationBusy) as exc:
                        await session.rollback()
                        if time.monotonic() > deadline:
                            logger.exception("could not store the answer of run %s", run_id)
                            await self._fail_keeping_answer(run_id, pending_rows, event)
                            return
                        logger.warning(
                            "could not store the answer of run %s (attempt %d, %s); retrying",
                            run_id,
                            attempt,
                            type(getattr(exc, "orig", None) or exc).__name__,
                        )
                        await asyncio.sleep(0.2)
                        await session.refresh(state.conversation)
        self.notifier.wake(run_key(run_id), conversation_key(conversation_id))
        await self._record_usage(state)

    async def _record_usage(self, state: RunState) -> None:
        """Count the tokens used since the last count (a run paused for approval counts twice)."""
        new = _uncounted(state)
        state.recorded = state.usage
        if new.total_tokens > 0:
            await hooks.after_run(self.sessionmaker, self.settings, state.run.user_id, new)

    async def _store_answer(
        self,
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
        answer = NewMessage(event.message, usage=event.usage)
        [message] = await conversations.append_messages(session, state.conversation, [answer])
        completed = {
            "response": event.message.content or "",
            "conversation_id": str(state.conversation.id),
            "message_id": str(message.id),
            "usage": _usage_json(state.usage, total=True),
        }
        seq = rows[-1].seq + 1 if rows else state.writer.next_seq
        state.writer.next_seq = seq + 1
        fresh = [_copy(r) for r in rows]  # new objects: a failed attempt's rows were expunged
        fresh.append(RunEvent(run_id=run.id, seq=seq, event="message.completed", data=completed))
        session.add_all(fresh)
        run.status = "completed"
        run.usage = _usage_json(state.usage)
        run.owner = None
        run.finished_at = utcnow()
        if state.context.effects:
            run.effects = [*(run.effects or []), *state.context.effects]
        if with_count:
            await session.flush()  # our rows first: what fails in the count is the count's
            await hooks.count_with_answer(session, run.user_id, _uncounted(state))
        await self.notifier.announce(
            session, run_key(run.id), conversation_key(run.conversation_id)
        )
        await session.commit()
        if with_count:
            state.recorded = state.usage
        state.writer.published(fresh)

    async def _fail_keeping_answer(
        self, run_id: uuid.UUID, rows: list[RunEvent], event: FinalAnswer
    ) -> None:
        """The answer could not be stored as a message: keep it in the run's events at least."""
        with contextlib.suppress(SQLAlchemyError):
            async with self.sessionmaker() as session:
                run = await session.get(Run, run_id)
                if run is None:
                    return
                seq = rows[-1].seq + 1 if rows else await runs.last_seq(session, run_id) + 1
                kept = [_copy(r) for r in rows]
                answer = {"delta": event.message.content or ""}
                kept.append(RunEvent(run_id=run_id, seq=seq, event="message.delta", data=answer))
                error = _internal_error(run_id)
                await runs.end_run(
                    session,
                    self.notifier,
                    run,
                    status="failed",
                    error=error,
                    events=kept,
                    error_seq=seq + 1,
                )
                await session.commit()
        self.notifier.wake(run_key(run_id))

    async def _end(
        self,
        session: AsyncSession,
        run_id: uuid.UUID,
        state: RunState | None,
        status: str,
        error: dict[str, Any] | None,
    ) -> None:
        """End a run that did not finish: its buffered events, repaired history and final status."""
        with anyio.CancelScope(shield=True):
            try:
                run = await self._end_once(session, run_id, state, status, error)
            except SQLAlchemyError:
                logger.exception("could not record the end of run %s", run_id)
                return
            if run is None:
                return
            self.notifier.wake(run_key(run_id), conversation_key(run.conversation_id))
            if state is not None:
                await self._record_usage(state)

    async def _end_once(
        self,
        session: AsyncSession,
        run_id: uuid.UUID,
        state: RunState | None,
        status: str,
        error: dict[str, Any] | None,
    ) -> Run | None:
        await session.rollback()
        run = await session.get(Run, run_id, populate_existing=True)
        if run is None or run.status in FINAL_STATUSES:
            return None
        if state is None:
            error_seq = await runs.last_seq(session, run_id) + 1
            await runs.end_run(
                session, self.notifier, run, status=status, error=error, error_seq=error_seq
            )
            await session.commit()
            return run
        async with state.writer.lock:
            rows = state.writer.take()
            state.context.effects.clear()  # a tool cut short rolled back with its transaction
            run.usage = _usage_json(state.usage)
            await runs.end_run(
                session,
                self.notifier,
                run,
                status=status,
                error=error,
                events=rows,
                error_seq=state.writer.next_seq,
            )
            await session.commit()
        return run

    # -- heartbeat and process death --------------------------------------------------------

    async def _beat_forever(self) -> None:
        while True:
            await asyncio.sleep(self.settings.run_heartbeat_s)
            try:
                await self._beat()
                await self.sweep(at_startup=False)
            except SQLAlchemyError:
                logger.warning("run heartbeat failed", exc_info=True)

    async def _beat(self) -> None:
        """Renew this process's lease on its runs; pick up cancel requests NOTIFY may have missed."""
        async with self.sessionmaker() as session:
            await session.execute(
                update(Run)
                .where(Run.owner == self.owner, Run.status.in_(("queued", "running")))
                .values(heartbeat_at=utcnow())
                .execution_options(synchronize_session=False)
            )
            result = await session.execute(
                select(Run.id).where(Run.owner == self.owner, Run.cancel_requested.is_(True))
            )
            await session.commit()
        for run_id in result.scalars():
            self._cancel_requested(str(run_id))

    async def sweep(self, *, at_startup: bool) -> int:
        """Interrupt runs whose process died: on SQLite every running run at start-up (one process
        owns the file); on PostgreSQL those whose heartbeat lease ran out."""
        postgres = self.settings.resolved_database_url.startswith("postgresql")
        if not postgres and not at_startup:
            return 0
        async with self.sessionmaker() as session:
            query = select(Run).where(
                Run.status.in_(("queued", "running")), Run.owner != self.owner
            )
            if postgres:
                cutoff = utcnow() - timedelta(seconds=self.settings.run_lease_s)
                query = query.where(Run.heartbeat_at < cutoff)
            dead = (await session.execute(query)).scalars().all()
            for run in dead:
                await self._end_idle(session, run, "interrupted")
        return len(dead)


# -- event and error shapes -------------------------------------------------------------------


def _call_json(call: ToolCallRequest) -> dict[str, Any]:
    return {"id": call.id, "name": call.name, "arguments": call.arguments}


def _call_event(call: ToolCallRequest) -> dict[str, Any]:
    return {"id": call.id, "name": call.name, "arguments": _json_or_text(call.arguments)}


def _result_event(outcome: ToolOutcome) -> dict[str, Any]:
    return {
        "id": outcome.call.id,
        "name": outcome.call.name,
        "result": _json_or_text(outcome.content),
        "is_error": outcome.is_error,
    }


def _copy(row: RunEvent) -> RunEvent:
    return RunEvent(run_id=row.run_id, seq=row.seq, event=row.event, data=row.data)


def _json_or_text(text: str) -> Any:
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value if isinstance(value, dict) else text


def _uncounted(state: RunState) -> Usage:
    """The tokens used since the quota last counted them."""
    return Usage(
        state.usage.prompt_tokens - state.recorded.prompt_tokens,
        state.usage.completion_tokens - state.recorded.completion_tokens,
    )


def _usage_json(usage: Usage, *, total: bool = False) -> dict[str, int]:
    body = {"prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens}
    if total:
        body["total_tokens"] = usage.total_tokens
    return body


def _app_error(exc: AppError) -> dict[str, Any]:
    return {**exc.body(), "status_code": exc.status_code, "headers": exc.headers or {}}


def _internal_error(run_id: uuid.UUID) -> dict[str, Any]:
    detail = f"Something went wrong on our side. Quote run id {str(run_id)!r} to report it."
    return {"error": "internal_error", "detail": detail, "status_code": 500}


def _end_error(status: str) -> dict[str, Any]:
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


async def _commit(session: AsyncSession) -> None:
    with anyio.CancelScope(shield=True):
        await session.commit()


async def start_executor(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], model: ChatModel
) -> RunExecutor:
    """The app's executor, started: listening for wake-ups, runs of dead processes closed."""
    executor = RunExecutor(
        settings, sessionmaker, model, build_notifier(settings.resolved_database_url)
    )
    await executor.start()
    return executor
