"""The app's run executor, its admission check for a new turn, and a run of the current user's
loaded by id (404 otherwise)."""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import Depends, Request

from agent_service.deps import CurrentUser, SessionDep
from agent_service.runs import service
from agent_service.runs.executor import RunExecutor
from agent_service.runs.models import Run


async def get_executor(request: Request) -> RunExecutor:
    return cast(RunExecutor, request.app.state.runs)


ExecutorDep = Annotated[RunExecutor, Depends(get_executor)]


async def admit_turn(executor: ExecutorDep) -> None:
    """503 `overloaded` past `MAX_ACTIVE_TURNS`, before anything else a turn's route does: a
    route lists it in `dependencies=`, which FastAPI solves first, so a shed turn costs no token
    check, no query and no session. The executor checks again when it starts the run."""
    executor.admit()


async def owned_run(run_id: str, user: CurrentUser, session: SessionDep) -> Run:
    return await service.owned_run(session, user.id, run_id)


ADMITTED = [Depends(admit_turn)]  # a route's `dependencies=` for one that starts a turn
OwnedRun = Annotated[Run, Depends(owned_run)]
