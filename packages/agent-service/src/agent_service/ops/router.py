"""/healthz (the process answers), /readyz (database reachable, migrations current), /metrics."""

from __future__ import annotations

from typing import cast

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from agent_service.errors import AppError
from agent_service.migrations import current_revision, head_revision
from agent_service.observability import check_metrics_access
from agent_service.ops.metrics import metrics_registry

router = APIRouter(tags=["ops"])


class NotReady(AppError):
    status_code = 503
    code = "not_ready"


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> dict[str, str | None]:
    """The database answers and its schema is at the newest migration."""
    engine = cast(AsyncEngine, request.app.state.engine)
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
            current = await connection.run_sync(current_revision)
    except (SQLAlchemyError, OSError) as exc:
        raise NotReady("The database is not reachable.") from exc
    head = head_revision()
    if current != head:
        raise NotReady(
            f"The database schema is at {current!r}, the code expects {head!r}: "
            "run `agent-service db upgrade`."
        )
    return {"status": "ready", "database": "ok", "migration": current}


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    """Prometheus exposition (behind METRICS_TOKEN, or on METRICS_BIND: observability.py)."""
    check_metrics_access(request.app.state.settings, request.headers.get("authorization"))
    return Response(generate_latest(metrics_registry()), media_type=CONTENT_TYPE_LATEST)
