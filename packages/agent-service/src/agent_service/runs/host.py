"""What this process holds for the runs it drives (its name as an owner, their tasks and cancel
scopes, the shared writer of their events), and what each run being driven holds. Every part of
the executor works through these two."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
import uuid
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

import anyio
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent_service.agents.loop import ChatModel
from agent_service.agents.tool import ToolContext
from agent_service.conversations.models import Conversation
from agent_service.errors import database_unavailable
from agent_service.llm.messages import Usage
from agent_service.runs.models import Run
from agent_service.runs.notifier import RunNotifier
from agent_service.runs.writer import EventBatcher, EventWriter
from agent_service.settings import Settings


def owner_name() -> str:
    """Unique per process start: a lease names the process that holds it."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass
class RunHost:
    """One per process (the executor's): shared by admission, driving, ending and liveness."""

    settings: Settings
    sessionmaker: async_sessionmaker[AsyncSession]
    model: ChatModel
    notifier: RunNotifier
    batcher: EventBatcher
    owner: str = field(default_factory=owner_name)
    tasks: dict[uuid.UUID, asyncio.Task[None]] = field(default_factory=dict)
    scopes: dict[uuid.UUID, anyio.CancelScope] = field(default_factory=dict)
    # Runs whose writes cannot commit now: their lease is not renewed, so if this process never
    # gets them written, any replica (this one included) sweeps them once the lease runs out.
    stalled: set[uuid.UUID] = field(default_factory=set)
    # The stalled runs whose last write the database itself refused (a trigger, a constraint):
    # they stay stuck while it answers others. The rest wait for a database that was away, and
    # their next attempt (within 2 s of its return) commits.
    refused: set[uuid.UUID] = field(default_factory=set)
    # When a heartbeat last failed (monotonic): until a whole lease has passed since, the leases
    # that ran out are those the outage stopped every replica from renewing, and none is swept.
    beat_failed_at: float | None = None
    stopping: bool = False

    @property
    def postgres(self) -> bool:
        return self.settings.resolved_database_url.startswith("postgresql")

    def spawn(self, run_id: uuid.UUID, work: Coroutine[Any, Any, None]) -> None:
        """Drive the run as a task of its own: a client that goes away does not stop it."""
        task = asyncio.create_task(work, name=f"run-{run_id}")
        self.tasks[run_id] = task
        task.add_done_callback(lambda _t: self.tasks.pop(run_id, None))

    def cancel_requested(self, run_id: str) -> None:
        """Cancel the run's scope if this process drives it (called by the notifier)."""
        with contextlib.suppress(ValueError):
            scope = self.scopes.get(uuid.UUID(run_id))
            if scope is not None:
                scope.cancel()


class WriteRetry:
    """Backoff for a write a run cannot do without (its end): 0.2 s, doubling up to 2 s.

    While the database is unreachable, restarting or locked, the write is tried again until it
    answers; an error the database itself gave (a constraint, a trigger) is tried until
    `give_up_s` has passed. Meanwhile the run is stalled: its lease is not renewed.
    """

    FIRST_S = 0.2
    LONGEST_S = 2.0

    def __init__(self, host: RunHost, run_id: uuid.UUID, *, give_up_s: float) -> None:
        self.host = host
        self.run_id = run_id
        self.give_up_at = time.monotonic() + give_up_s
        self.delay_s = self.FIRST_S
        self.attempts = 0

    async def again(self, exc: BaseException) -> bool:
        """After a failed attempt: wait, and say whether to try again."""
        self.attempts += 1
        self.host.stalled.add(self.run_id)
        if database_unavailable(exc) is None:
            self.host.refused.add(self.run_id)
        else:
            self.host.refused.discard(self.run_id)
        past = time.monotonic() > self.give_up_at
        if past and (database_unavailable(exc) is None or self.host.stopping):
            return False
        await asyncio.sleep(self.delay_s)
        self.delay_s = min(self.delay_s * 2, self.LONGEST_S)
        return True

    def done(self) -> None:
        self.host.stalled.discard(self.run_id)
        self.host.refused.discard(self.run_id)


@dataclass
class RunState:
    """What a run being driven holds: its rows, its writer, its usage and tool effects."""

    run: Run
    conversation: Conversation
    writer: EventWriter
    context: ToolContext
    usage: Usage = field(default_factory=Usage)
    recorded: Usage = field(default_factory=Usage)  # what the quota already counted
    # read now: a failed write's rollback expires `run`, and counting its tokens must not need it
    user_id: uuid.UUID = field(init=False)

    def __post_init__(self) -> None:
        self.user_id = self.run.user_id

    def uncounted(self) -> Usage:
        """The tokens used since the quota last counted them."""
        return Usage(
            self.usage.prompt_tokens - self.recorded.prompt_tokens,
            self.usage.completion_tokens - self.recorded.completion_tokens,
        )
