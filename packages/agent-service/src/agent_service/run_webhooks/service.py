"""Webhook rules: one signing secret per user, a delivery row and its job written in the
caller's transaction (it exists exactly when the run's final status does), lists per user."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from agent_service.db import utcnow
from agent_service.jobs import service as jobs
from agent_service.run_webhooks.exceptions import WebhookSecretMissing as WebhookSecretMissing
from agent_service.run_webhooks.models import WebhookDelivery, WebhookSecret
from agent_service.run_webhooks.signing import new_secret

DELIVER_KIND = "run_webhooks.deliver"
# Svix's schedule for Standard Webhooks: at once, then after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h
# and 10 h: the last attempt comes a little over a day after the first.
RETRY_DELAYS_S = (5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0)


async def make_secret(session: AsyncSession, user_id: uuid.UUID) -> WebhookSecret:
    """A new secret for the user, replacing the old one (deliveries still due use the new one)."""
    await session.execute(delete(WebhookSecret).where(WebhookSecret.user_id == user_id))
    row = WebhookSecret(user_id=user_id, secret=new_secret(), created_at=utcnow())
    session.add(row)
    await session.flush()
    return row


async def get_secret(session: AsyncSession, user_id: uuid.UUID) -> WebhookSecret | None:
    return await session.get(WebhookSecret, user_id)


async def require_secret(session: AsyncSession, user_id: uuid.UUID) -> None:
    """400 `webhook_secret_missing` when the user has no secret yet to sign with."""
    if await get_secret(session, user_id) is None:
        raise WebhookSecretMissing()


async def enqueue_delivery(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    url: str,
    event_type: str,
    data: dict[str, Any] | None,
    run_id: uuid.UUID | None = None,
) -> uuid.UUID:
    """A delivery and its job in the caller's transaction; returns the job's id, for
    `JobQueue.submit` after the commit. `data` None: the run's (`run_id`), read at the first
    attempt, once the transaction that ends the run committed."""
    delivery = WebhookDelivery(
        user_id=user_id,
        run_id=run_id,
        url=url,
        event_type=event_type,
        body="" if data is None else render_body(event_type, data),
        status="pending",
        attempts=[],
        next_attempt_at=utcnow(),
    )
    session.add(delivery)
    await session.flush()
    job = await jobs.enqueue_job(
        session,
        DELIVER_KIND,
        {"delivery_id": str(delivery.id)},
        max_attempts=len(RETRY_DELAYS_S) + 1,
    )
    return job.id


def render_body(event_type: str, data: dict[str, Any]) -> str:
    return json.dumps(
        {"type": event_type, "timestamp": utcnow().isoformat(), "data": data},
        separators=(",", ":"),
        default=str,
    )


async def list_deliveries(
    session: AsyncSession, user_id: uuid.UUID, *, limit: int, offset: int
) -> tuple[Sequence[WebhookDelivery], int]:
    """The user's deliveries, newest first."""
    where = WebhookDelivery.user_id == user_id
    total = await session.scalar(select(func.count()).select_from(WebhookDelivery).where(where))
    query = (
        select(WebhookDelivery)
        .where(where)
        .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id)
        .limit(limit)
        .offset(offset)
    )
    return (await session.scalars(query)).all(), total or 0
