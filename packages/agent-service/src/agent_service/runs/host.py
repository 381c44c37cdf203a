"""What this process holds for the runs it drives (its name as an owner, their tasks and cancel
scopes, the shared writer of their events), and what each run being driven holds. Every part of
the executor works through these two."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

import anyio
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent_service.agents.loop import ChatModel
from agent_service.agents.tool import ToolContext
from agent_service.conversations.models import Conversation
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


@dataclass
class RunState:
    """What a run being driven holds: its rows, its writer, its usage and tool effects."""

    run: Run
    conversation: Conversation
    writer: EventWriter
    context: ToolContext
    usage: Usage = field(default_factory=Usage)
    recorded: Usage = field(default_factory=Usage)  # what the quota already counted

    def uncounted(self) -> Usage:
        """The tokens used since the quota last counted them."""
        return Usage(
            self.usage.prompt_tokens - self.recorded.prompt_tokens,
            self.usage.completion_tokens - self.recorded.completion_tokens,
        )
