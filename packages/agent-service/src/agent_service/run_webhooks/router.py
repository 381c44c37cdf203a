"""/api/webhooks: your signing secret and the deliveries of your runs' completion webhooks."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from agent_service.deps import CurrentUser, SessionDep
from agent_service.pagination import PAGINATED, PageDep
from agent_service.run_webhooks import service
from agent_service.run_webhooks.schemas import (
    WebhookDeliveryPublic,
    WebhookSecretCreated,
    WebhookSecretStatus,
)

router = APIRouter(prefix="/api/webhooks", tags=["webhooks"])


@router.post("/secret", status_code=status.HTTP_201_CREATED, response_model=WebhookSecretCreated)
async def make_webhook_secret(user: CurrentUser, session: SessionDep) -> WebhookSecretCreated:
    """Make your signing secret (replacing any older one); it is shown only in this answer."""
    row = await service.make_secret(session, user.id)
    await session.commit()
    return WebhookSecretCreated(secret=row.secret, created_at=row.created_at)


@router.get("/secret", response_model=WebhookSecretStatus)
async def webhook_secret_status(user: CurrentUser, session: SessionDep) -> WebhookSecretStatus:
    """Whether you have a signing secret, and since when (never the secret itself)."""
    row = await service.get_secret(session, user.id)
    return WebhookSecretStatus(configured=row is not None, created_at=row and row.created_at)


@router.get("/deliveries", response_model=list[WebhookDeliveryPublic], responses=PAGINATED)
async def list_webhook_deliveries(
    user: CurrentUser, session: SessionDep, page: PageDep, response: Response
) -> list[WebhookDeliveryPublic]:
    """Your runs' webhook deliveries and every attempt, newest first (paginated)."""
    items, total = await service.list_deliveries(
        session, user.id, limit=page.limit, offset=page.offset
    )
    page.set_headers(response, total)
    return [WebhookDeliveryPublic.model_validate(d) for d in items]
