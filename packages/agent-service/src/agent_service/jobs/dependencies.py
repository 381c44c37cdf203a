"""The app's job queue, as a route dependency."""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import Depends, Request

from agent_service.jobs.queue import JobQueue


async def get_job_queue(request: Request) -> JobQueue:
    return cast(JobQueue, request.app.state.job_queue)


JobQueueDep = Annotated[JobQueue, Depends(get_job_queue)]
