"""The `run_webhooks.deliver` job: one signed POST per attempt, each attempt recorded.

A 2xx answer delivers it; anything else (another status, no answer in 10 s, no connection) is
retried on `RETRY_DELAYS_S`. The target is checked again before every attempt (a name may
resolve elsewhere by then); a refused target fails at once. Redirects are not followed: a
redirect to an internal address would bypass the check.
"""

from __future__ import annotations

import time
import uuid
from datetime import timedelta
from typing import Any

import httpx

from agent_service.background.service import run_event_data
from agent_service.db import utcnow
from agent_service.errors import AppError
from agent_service.jobs.exceptions import PermanentJobError, RetryableJobError
from agent_service.jobs.registry import JobContext, JobHandler, Payload
from agent_service.run_webhooks import service
from agent_service.run_webhooks.models import WebhookDelivery
from agent_service.run_webhooks.signing import signed_headers
from agent_service.run_webhooks.targets import check_webhook_url

TIMEOUT_S = 10.0


async def _record(
    context: JobContext, delivery_id: uuid.UUID, attempt: dict[str, Any], **changes: Any
) -> WebhookDelivery:
    async with context.sessionmaker() as session:
        delivery = await session.get(WebhookDelivery, delivery_id)
        assert delivery is not None
        delivery.attempts = [*delivery.attempts, attempt]
        for name, value in changes.items():
            setattr(delivery, name, value)
        await session.commit()
        return delivery


async def _post(url: str, headers: dict[str, str], body: str) -> tuple[int | None, str | None]:
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT_S, follow_redirects=False) as client:
            response = await client.post(url, content=body.encode(), headers=headers)
    except httpx.HTTPError as exc:
        return None, f"{type(exc).__name__}: {exc}"[:500] or type(exc).__name__
    if 200 <= response.status_code < 300:
        return response.status_code, None
    return response.status_code, f"the receiver answered {response.status_code}"


async def deliver(context: JobContext, payload: Payload) -> None:
    delivery_id = uuid.UUID(payload["delivery_id"])
    async with context.sessionmaker() as session:
        delivery = await session.get(WebhookDelivery, delivery_id)
        if delivery is None or delivery.status != "pending":
            return  # deleted with its user, or already delivered by an earlier attempt
        secret = await service.get_secret(session, delivery.user_id)
        if not delivery.body and delivery.run_id is not None:  # a run's: its body written once
            data = await run_event_data(session, delivery.run_id)
            delivery.body = service.render_body(delivery.event_type, data or {})
            await session.commit()
        url, body, number = delivery.url, delivery.body, len(delivery.attempts) + 1
    started, at = time.monotonic(), utcnow()
    attempt: dict[str, Any] = {"at": at.isoformat(), "status_code": None, "error": None}
    try:
        if secret is None:
            raise service.WebhookSecretMissing()
        await check_webhook_url(url, allow_private=context.settings.webhook_allow_private)
    except AppError as exc:
        attempt["error"] = exc.detail
        await _record(context, delivery_id, attempt, status="failed", next_attempt_at=None)
        raise PermanentJobError(exc.detail) from None
    headers = signed_headers(secret.secret, message_id=f"msg_{delivery_id.hex}", at=at, body=body)
    attempt["status_code"], attempt["error"] = await _post(url, headers, body)
    attempt["duration_ms"] = round((time.monotonic() - started) * 1000)
    if attempt["error"] is None:
        await _record(
            context,
            delivery_id,
            attempt,
            status="delivered",
            delivered_at=utcnow(),
            next_attempt_at=None,
        )
        return
    if number > len(service.RETRY_DELAYS_S):
        await _record(context, delivery_id, attempt, status="failed", next_attempt_at=None)
        raise PermanentJobError(f"Gave up after {number} attempts: {attempt['error']}.")
    delay = service.RETRY_DELAYS_S[number - 1]
    await _record(context, delivery_id, attempt, next_attempt_at=at + timedelta(seconds=delay))
    raise RetryableJobError(str(attempt["error"]), retry_after_s=delay)


async def _gave_up(context: JobContext, payload: Payload, _message: str) -> None:
    async with context.sessionmaker() as session:
        delivery = await session.get(WebhookDelivery, uuid.UUID(payload["delivery_id"]))
        if delivery is not None and delivery.status == "pending":
            delivery.status, delivery.next_attempt_at = "failed", None
            await session.commit()


DELIVER_WEBHOOK = JobHandler(kind=service.DELIVER_KIND, run=deliver, on_failure=_gave_up)
