"""The schedules' ticker: a task in every API process that starts due ticks (once across
replicas, see `service.start_tick`) every `SCHEDULE_POLL_S`."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy.exc import SQLAlchemyError

from agent_service.runs.executor import RunExecutor
from agent_service.schedules import service

logger = logging.getLogger("agent_service.schedules")


class Ticker:
    def __init__(self, executor: RunExecutor) -> None:
        self.executor = executor
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="schedule-ticker")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        while True:
            try:
                await service.tick(self.executor)
            except (SQLAlchemyError, OSError):
                logger.warning("could not start due schedules; trying again shortly", exc_info=True)
            except Exception:  # the ticker must outlive any one failure
                logger.exception("the schedule ticker failed; trying again shortly")
            await asyncio.sleep(self.executor.settings.schedule_poll_s)
