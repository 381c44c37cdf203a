"""Getting a run to its driver: a queued run is claimed once no other run of its conversation
runs (the unique index decides), its input messages stored with the claim; a run created running
is taken as its creator committed it."""

from __future__ import annotations

import asyncio
import contextlib
import uuid

from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from agent_service.agents.tool import ToolContext
from agent_service.conversations import service as conversations
from agent_service.conversations.models import Conversation
from agent_service.conversations.service import NewMessage
from agent_service.db import Base, utcnow
from agent_service.integrations.github.access import GitHubAccess
from agent_service.llm.messages import ChatMessage, Usage
from agent_service.runs import lifecycle
from agent_service.runs import service as runs
from agent_service.runs.host import RunHost, RunState
from agent_service.runs.models import Run
from agent_service.runs.notifier import conversation_key, run_key
from agent_service.runs.payloads import commit_shielded


async def prepare(
    host: RunHost,
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
        return await _take_prepared(host, session, *prepared)
    if resuming:
        run = await session.get(Run, run_id)
        conversation = await session.get(Conversation, conversation_id)
        if run is None or conversation is None:
            return None
        next_seq = await runs.last_seq(session, run.id) + 1
    else:
        claimed = await claim(host, session, run_id, conversation_id)
        if claimed is None:
            return None
        run, conversation = claimed
        next_seq = 2  # a queued run has only `run.created`: ending it while queued unqueues it
        inputs = [NewMessage(ChatMessage(m["role"], m["content"])) for m in run.input]
        await conversations.append_messages(session, conversation, inputs)
    writer = host.batcher.writer(run.id, next_seq=next_seq, owner=host.owner)
    context = ToolContext(session, run.user_id, GitHubAccess.from_settings(host.settings))
    usage = Usage(**(run.usage or {}))
    await host.notifier.announce(session, run_key(run.id))
    await commit_shielded(session)
    host.notifier.wake(run_key(run.id))
    return RunState(run, conversation, writer, context, usage, recorded=usage)


async def _take_prepared(
    host: RunHost, session: AsyncSession, created: Run, conversation: Conversation
) -> RunState:
    """A run created running: its rows as committed, taken into this session (no query)."""
    run = await session.merge(created, load=False)
    conversation = await session.merge(conversation, load=False)
    rows: tuple[Base, ...] = (run, conversation)
    for row in rows:
        if sa_inspect(row).unloaded:  # a column its creator left to the database: read it
            await session.refresh(row)
    writer = host.batcher.writer(run.id, next_seq=2, owner=host.owner)
    context = ToolContext(session, run.user_id, GitHubAccess.from_settings(host.settings))
    host.notifier.wake(run_key(run.id))
    return RunState(run, conversation, writer, context)


async def claim(
    host: RunHost, session: AsyncSession, run_id: uuid.UUID, conversation_id: uuid.UUID
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
    while True:
        with host.notifier.watch(conversation_key(conversation_id)) as woken:
            try:
                run = await lifecycle.transition_returning(
                    session,
                    run_id,
                    from_="queued",
                    to="running",
                    owner=host.owner,
                    heartbeat_at=utcnow(),
                )
            except IntegrityError:
                await session.rollback()
            else:
                # read once the claim holds (a new session: nothing of it was loaded before)
                conversation = (
                    await session.get(Conversation, conversation_id) if run is not None else None
                )
                if run is None or conversation is None:
                    await session.rollback()
                    return None
                run.first_position = conversation.message_count  # where its messages start
                return run, conversation
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(host.settings.run_poll_s):
                    await woken.wait()
