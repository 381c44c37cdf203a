"""The app's run executor, and a run of the current user's loaded by id (404 otherwise)."""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import Depends, Request

from agent_service.deps import CurrentUser, SessionDep
from agent_service.runs import service
from agent_service.runs.executor import RunExecutor
from agent_service.runs.models import Run


async def get_executor(request: Request) -> RunExecutor:
    return cast(RunExecutor, request.app.state.runs)


async def owned_run(run_id: str, user: CurrentUser, session: SessionDep) -> Run:
    return await service.owned_run(session, user.id, run_id)


ExecutorDep = Annotated[RunExecutor, Depends(get_executor)]
OwnedRun = Annotated[Run, Depends(owned_run)]
