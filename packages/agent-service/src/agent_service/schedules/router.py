"""/api/assistants/{id}/schedules and /api/schedules: cron schedules of background runs."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from agent_service.deps import CurrentUser, SessionDep, SettingsDep
from agent_service.pagination import PAGINATED, PageDep
from agent_service.runs import service as runs
from agent_service.runs.schemas import RunPublic
from agent_service.schedules import service
from agent_service.schedules.schemas import ScheduleCreate, SchedulePublic

router = APIRouter(prefix="/api", tags=["schedules"])


@router.post(
    "/assistants/{assistant_id}/schedules",
    status_code=status.HTTP_201_CREATED,
    response_model=SchedulePublic,
)
async def create_schedule(
    assistant_id: str,
    body: ScheduleCreate,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
) -> SchedulePublic:
    """Run the assistant on `input` at every tick of `cron` (in `timezone`) in the background,
    once per tick whatever the number of replicas; each run is posted to `webhook` if given."""
    schedule = await service.create_schedule(
        session, user, assistant_id, body, allow_private=settings.webhook_allow_private
    )
    await session.commit()
    return SchedulePublic.model_validate(schedule)


@router.get("/schedules", response_model=list[SchedulePublic], responses=PAGINATED)
async def list_schedules(
    user: CurrentUser, session: SessionDep, page: PageDep, response: Response
) -> list[SchedulePublic]:
    """Your schedules, oldest first (paginated)."""
    items, total = await service.list_schedules(session, user, limit=page.limit, offset=page.offset)
    page.set_headers(response, total)
    return [SchedulePublic.model_validate(s) for s in items]


@router.get("/schedules/{schedule_id}", response_model=SchedulePublic)
async def get_schedule(schedule_id: str, user: CurrentUser, session: SessionDep) -> SchedulePublic:
    """A schedule and its next tick."""
    return SchedulePublic.model_validate(await service.owned_schedule(session, user, schedule_id))


@router.delete("/schedules/{schedule_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_schedule(schedule_id: str, user: CurrentUser, session: SessionDep) -> Response:
    """Stop the schedule (the runs it started are kept)."""
    schedule = await service.owned_schedule(session, user, schedule_id)
    await session.delete(schedule)
    await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/schedules/{schedule_id}/runs", response_model=list[RunPublic], responses=PAGINATED)
async def list_schedule_runs(
    schedule_id: str, user: CurrentUser, session: SessionDep, page: PageDep, response: Response
) -> list[RunPublic]:
    """The runs the schedule started, newest first (paginated)."""
    schedule = await service.owned_schedule(session, user, schedule_id)
    items, total = await service.schedule_runs(
        session, schedule, limit=page.limit, offset=page.offset
    )
    page.set_headers(response, total)
    return [runs.run_public(run) for run in items]
