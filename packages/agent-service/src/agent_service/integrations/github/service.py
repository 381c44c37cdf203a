"""Deliveries: record each once, decide what it asks of us, list them for admins."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from agent_service.db import utcnow
from agent_service.integrations.github.jobs import KIND as TRIAGE_JOB
from agent_service.integrations.github.models import DeliveryStatus, GitHubDelivery
from agent_service.jobs import service as jobs
from agent_service.jobs.models import Job
from agent_service.settings import Settings

TRIAGED_ACTIONS = {"opened", "reopened"}


def _repository(payload: dict[str, Any]) -> str | None:
    repo = payload.get("repository")
    name = repo.get("full_name") if isinstance(repo, dict) else None
    return name if isinstance(name, str) else None


def _issue_number(payload: dict[str, Any]) -> int | None:
    issue = payload.get("issue")
    number = issue.get("number") if isinstance(issue, dict) else None
    return number if isinstance(number, int) else None


def classify(event: str, payload: dict[str, Any], settings: Settings) -> DeliveryStatus:
    """What a delivery asks of us: nothing (a ping: done at once), nothing we do, or a triage."""
    if event == "ping":
        return DeliveryStatus.DONE
    if event != "issues" or payload.get("action") not in TRIAGED_ACTIONS:
        return DeliveryStatus.IGNORED
    repository = _repository(payload)
    allowed = {r.lower() for r in settings.github_repositories}
    if repository is None or _issue_number(payload) is None:
        return DeliveryStatus.IGNORED
    if allowed and repository.lower() not in allowed:
        return DeliveryStatus.IGNORED
    return DeliveryStatus.QUEUED


async def record_delivery(
    session: AsyncSession,
    settings: Settings,
    *,
    delivery_id: str,
    event: str,
    payload: dict[str, Any],
) -> tuple[GitHubDelivery, Job | None] | None:
    """The new delivery and its triage job (if any), committed together; None when this
    delivery id was already recorded. The caller submits the job after this returns."""
    action = payload.get("action")
    status = classify(event, payload, settings)
    delivery = GitHubDelivery(
        delivery_id=delivery_id,
        event=event,
        action=action if isinstance(action, str) else None,
        repository=_repository(payload),
        issue_number=_issue_number(payload),
        status=status,
        payload=payload,
        # one with no job to wait for is final as it is recorded
        finished_at=None if status == DeliveryStatus.QUEUED else utcnow(),
    )
    session.add(delivery)
    job = None
    try:
        await session.flush()
        if delivery.status == DeliveryStatus.QUEUED:
            job = await jobs.enqueue_job(
                session,
                TRIAGE_JOB,
                {"delivery_id": str(delivery.id)},
                max_attempts=settings.job_max_attempts,
            )
        await session.commit()
    except IntegrityError:
        await session.rollback()
        return None
    return delivery, job


async def list_deliveries(
    session: AsyncSession, *, limit: int, offset: int
) -> tuple[Sequence[GitHubDelivery], int]:
    total = await session.scalar(select(func.count()).select_from(GitHubDelivery)) or 0
    result = await session.execute(
        select(GitHubDelivery)
        .order_by(GitHubDelivery.created_at.desc(), GitHubDelivery.id)
        .limit(limit)
        .offset(offset)
    )
    return result.scalars().all(), total
