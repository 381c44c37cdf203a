"""`JobQueue`: the one interface the routes see, whichever runner the settings choose.

    inline         the API process claims and runs jobs itself (embedded default)
    procrastinate  jobs are deferred to procrastinate on PostgreSQL; `agent-service worker` runs them

Either way the `job` row, written in the caller's transaction, is the durable state; `submit` only
says "start it now" after the commit.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Protocol

from agent_service.jobs.inline import InlineRunner
from agent_service.jobs.registry import JobContext, JobHandler, default_handlers


class JobQueue(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def submit(self, job_id: uuid.UUID) -> None:
        """Start a committed job as soon as a worker is free."""


def build_job_queue(
    context: JobContext, handlers: Mapping[str, JobHandler] | None = None
) -> JobQueue:
    handlers = handlers if handlers is not None else default_handlers()
    settings = context.settings
    if settings.job_runner == "procrastinate":
        from agent_service.jobs.procrastinate_queue import ProcrastinateQueue

        return ProcrastinateQueue(context)
    return InlineRunner(
        context,
        handlers,
        concurrency=settings.job_concurrency,
        poll_interval_s=settings.job_poll_interval_s,
    )
