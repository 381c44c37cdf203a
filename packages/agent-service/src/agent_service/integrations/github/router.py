"""`POST /webhooks/github` (signed by GitHub) and the admin's list of deliveries."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from agent_service.bounds import INT_MAX, UnsafeJson, load_json
from agent_service.deps import AdminUser, SessionDep, SettingsDep
from agent_service.integrations.github import service
from agent_service.integrations.github.exceptions import (
    InvalidSignature,
    InvalidWebhook,
    WebhookNotConfigured,
    WebhookTooLarge,
)
from agent_service.integrations.github.models import DeliveryStatus
from agent_service.integrations.github.schemas import DeliveryPublic, WebhookAck
from agent_service.integrations.github.signature import verify_webhook_signature
from agent_service.jobs.dependencies import JobQueueDep
from agent_service.pagination import PAGINATED, PageDep

router = APIRouter(tags=["github"])


async def read_body_within(request: Request, limit: int) -> bytes:
    """The raw body, refusing (413) as soon as it would pass `limit` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise WebhookTooLarge(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise WebhookTooLarge(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def parse_payload(body: bytes) -> dict[str, Any]:
    """The payload, bounded like every body (`bounds.load_json`: depth, NUL, numbers)."""
    try:
        payload = load_json(body)
    except UnsafeJson as exc:
        raise InvalidWebhook(f"The body is refused: {exc.field!r} {exc.message}.") from exc
    except ValueError as exc:  # not JSON, not UTF-8, or more digits than Python reads
        raise InvalidWebhook(f"The body is not valid JSON: {exc}.") from exc
    if not isinstance(payload, dict):
        raise InvalidWebhook("The body must be a JSON object.")
    issue = payload.get("issue")
    number = issue.get("number") if isinstance(issue, dict) else None
    if isinstance(number, int) and not 0 < number <= INT_MAX:
        raise InvalidWebhook(f"issue.number must be from 1 to {INT_MAX}, not {number}.")
    return payload


def required_header(request: Request, name: str) -> str:
    value = request.headers.get(name, "").strip()
    if not value or len(value) > 100:
        raise InvalidWebhook(f"The {name} header is missing or too long.")
    return value


@router.post("/webhooks/github", response_model=WebhookAck)
async def github_webhook(
    request: Request, session: SessionDep, settings: SettingsDep, queue: JobQueueDep
) -> WebhookAck:
    """Receive a GitHub delivery: verified over the raw body first, recorded once, triaged later."""
    if settings.github_webhook_secret is None:
        raise WebhookNotConfigured()
    body = await read_body_within(request, settings.github_webhook_max_bytes)
    secret = settings.github_webhook_secret.get_secret_value()
    if not verify_webhook_signature(secret, body, request.headers.get("x-hub-signature-256")):
        raise InvalidSignature()
    event = required_header(request, "x-github-event")
    delivery_id = required_header(request, "x-github-delivery")
    payload = parse_payload(body)
    recorded = await service.record_delivery(
        session, settings, delivery_id=delivery_id, event=event, payload=payload
    )
    if recorded is None:
        return WebhookAck(status="duplicate")
    delivery, job = recorded
    if job is not None:
        await queue.submit(job.id)
    if delivery.status == DeliveryStatus.IGNORED:
        return WebhookAck(status="ignored")
    return WebhookAck(status="accepted")


@router.get(
    "/api/integrations/github/deliveries",
    response_model=list[DeliveryPublic],
    responses=PAGINATED,
)
async def list_deliveries(
    _admin: AdminUser, session: SessionDep, page: PageDep, response: Response
) -> list[DeliveryPublic]:
    """Webhook deliveries, newest first, with status, triage result and error (admin, paginated)."""
    items, total = await service.list_deliveries(session, limit=page.limit, offset=page.offset)
    page.set_headers(response, total)
    return [DeliveryPublic.model_validate(d) for d in items]
