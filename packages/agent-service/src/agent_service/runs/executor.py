"""The run executor: the one place a chat turn is driven, whoever asked for it.

A route creates a run and hands it here; the executor runs it as a task of its own, so a client
that goes away does not stop it. This class is the façade the routes use; the work is done by
one module per responsibility, all sharing the process's `RunHost`:

- `admission`: the process's limit, the quota, the double-texting strategy, the run created;
- `scheduling`: a queued run claimed once its conversation is free, its input stored;
- `driving`: the agent loop walked, its steps stored, a pause for approval;
- `ending`: the answer stored, or a final status with the history repaired;
- `cancelling`: a cancel request from any replica, waiting for a final status;
- `liveness`: the heartbeat lease and the sweep of runs whose process died;
- `lifecycle`: the state machine every one of them moves a run through.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Sequence

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent_service.agents.loop import ChatModel
from agent_service.conversations.models import Conversation
from agent_service.llm.messages import ChatMessage
from agent_service.runs import admission, cancelling, liveness
from agent_service.runs.host import RunHost
from agent_service.runs.models import Run
from agent_service.runs.notifier import RunNotifier, build_notifier
from agent_service.runs.schemas import Decision, MultitaskStrategy, RunOrigin
from agent_service.runs.writer import EventBatcher
from agent_service.settings import Settings

logger = logging.getLogger("agent_service.runs")


class RunExecutor:
    """Drives this process's runs; one per app (`app.state.runs`)."""

    def __init__(
        self,
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        model: ChatModel,
        notifier: RunNotifier,
    ) -> None:
        batcher = EventBatcher(sessionmaker, notifier, interval_s=settings.run_event_batch_s)
        self.host = RunHost(settings, sessionmaker, model, notifier, batcher)
        self._heartbeat: asyncio.Task[None] | None = None
        notifier.on_cancel = self.host.cancel_requested

    @property
    def settings(self) -> Settings:
        return self.host.settings

    @property
    def sessionmaker(self) -> async_sessionmaker[AsyncSession]:
        return self.host.sessionmaker

    @property
    def notifier(self) -> RunNotifier:
        return self.host.notifier

    @property
    def owner(self) -> str:
        return self.host.owner

    @property
    def active(self) -> int:
        return len(self.host.tasks)

    async def start(self) -> None:
        """Listen for wake-ups, close runs a dead process left, keep this one's heartbeat."""
        await self.notifier.start()
        try:
            await liveness.sweep(self.host, at_startup=True)
        except SQLAlchemyError:
            logger.exception("could not look for interrupted runs: is the database migrated?")
        self._heartbeat = asyncio.create_task(
            liveness.beat_forever(self.host), name="run-heartbeat"
        )

    async def stop(self) -> None:
        """Runs still working are interrupted (their histories repaired) before the exit."""
        self.host.stopping = True
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat
        for scope in list(self.host.scopes.values()):
            scope.cancel()
        if self.host.tasks:
            await asyncio.wait(list(self.host.tasks.values()), timeout=10)
        await self.host.batcher.aclose()
        await self.notifier.stop()

    def admit(self) -> None:
        """503 `overloaded` at once, rather than queue past what this process may run."""
        admission.admit(self.host)

    async def start_run(
        self,
        session: AsyncSession,
        conversation: Conversation,
        messages: Sequence[ChatMessage],
        *,
        stream: bool,
        strategy: MultitaskStrategy = "enqueue",
        origin: RunOrigin | None = None,
    ) -> Run:
        """Create a run for the new messages, applying the double-texting strategy, and start it
        (`origin`: the assistant version, webhook and schedule it records)."""
        return await admission.start_run(
            self.host,
            session,
            conversation,
            messages,
            stream=stream,
            strategy=strategy,
            origin=origin,
        )

    async def settled(self, run_id: uuid.UUID) -> None:
        """Return once this process no longer drives the run: it ended, paused for approval or
        was interrupted (at once if it is driven elsewhere or not at all).

        A JSON reply waits here instead of following every event batch through the database;
        cancelling the caller does not cancel the run.
        """
        task = self.host.tasks.get(run_id)
        if task is not None:
            await asyncio.wait({task})

    async def cancel(self, session: AsyncSession, run: Run) -> None:
        """Ask a run to stop, on whichever replica it runs; a queued or paused one stops here."""
        await cancelling.cancel(self.host, session, run)

    async def wait_final(self, run_id: uuid.UUID, *, timeout_s: float) -> None:
        """Wait until the run has a final status (or the deadline passes: 409 run_in_progress)."""
        await cancelling.wait_final(self.host, run_id, timeout_s=timeout_s)

    async def resume(self, session: AsyncSession, run: Run, decisions: Sequence[Decision]) -> Run:
        """Continue a run paused for approval with the user's decisions (from any replica)."""
        return await admission.resume(self.host, session, run, decisions)

    async def sweep(self, *, at_startup: bool) -> int:
        """End the runs of processes that died (see `liveness.sweep`)."""
        return await liveness.sweep(self.host, at_startup=at_startup)


async def start_executor(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], model: ChatModel
) -> RunExecutor:
    """The app's executor, started: listening for wake-ups, runs of dead processes closed."""
    executor = RunExecutor(
        settings, sessionmaker, model, build_notifier(settings.resolved_database_url)
    )
    await executor.start()
    return executor
