"""Completion webhooks: the signing secret, signed deliveries verified with `standardwebhooks`,
each attempt recorded, retries scheduled, internal targets refused."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import delete
from standardwebhooks import Webhook

from agent_service.jobs.models import Job
from agent_service.run_webhooks import service
from agent_service.settings import Settings
from tests.factories import TestUser
from tests.webhook_receiver import webhook_receiver


@pytest.fixture
def settings(settings: Settings) -> Settings:
    settings.webhook_allow_private = True  # the receiver is on 127.0.0.1
    return settings


async def make_secret(client: httpx.AsyncClient, user: TestUser) -> str:
    r = await client.post("/api/webhooks/secret", headers=user.headers)
    assert r.status_code == 201, r.text
    secret = r.json()["secret"]
    assert secret.startswith("whsec_")
    return str(secret)


async def send(app: FastAPI, user: TestUser, url: str, **data: Any) -> None:
    """What a run's end does: a delivery and its job, committed, then submitted."""
    async with app.state.sessionmaker() as session:
        job_id = await service.enqueue_delivery(
            session, user_id=user.id, url=url, event_type="run.completed", data=data
        )
        await session.commit()
    await app.state.job_queue.submit(job_id)


async def deliveries_until(
    client: httpx.AsyncClient, user: TestUser, done: Callable[[list[dict[str, Any]]], bool]
) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 15
    while True:
        r = await client.get("/api/webhooks/deliveries", headers=user.headers)
        items: list[dict[str, Any]] = r.json()
        if done(items) or time.monotonic() > deadline:
            return items
        await asyncio.sleep(0.05)


async def test_a_delivery_is_signed_with_the_users_secret(
    app: FastAPI, client: httpx.AsyncClient, user: TestUser
) -> None:
    r = await client.get("/api/webhooks/secret", headers=user.headers)
    assert r.json() == {"configured": False, "created_at": None}
    secret = await make_secret(client, user)
    r = await client.get("/api/webhooks/secret", headers=user.headers)
    assert r.json()["configured"] is True and "secret" not in r.json()
    async with webhook_receiver() as receiver:
        await send(app, user, receiver.url, id="run-1", status="completed")
        (got,) = await receiver.wait_for(1)
    assert got.headers["webhook-id"].startswith("msg_")
    assert got.headers["webhook-signature"].startswith("v1,")
    payload = Webhook(secret).verify(got.body, got.headers)
    assert payload["type"] == "run.completed" and payload["data"]["id"] == "run-1"
    with pytest.raises(Exception, match="signature"):
        Webhook(await make_secret(client, user)).verify(got.body, got.headers)  # another secret
    items = await deliveries_until(client, user, lambda d: d[0]["status"] == "delivered")
    assert items[0]["status"] == "delivered" and items[0]["attempts"][0]["status_code"] == 200


async def test_a_failed_attempt_is_recorded_and_retried_later(
    app: FastAPI, client: httpx.AsyncClient, user: TestUser
) -> None:
    await make_secret(client, user)
    async with webhook_receiver() as receiver:
        receiver.statuses = [503]
        await send(app, user, receiver.url, id="run-2")
        await receiver.wait_for(1)
        items = await deliveries_until(client, user, lambda d: bool(d[0]["attempts"]))
    (delivery,) = items
    assert delivery["status"] == "pending" and delivery["attempts"][0]["status_code"] == 503
    assert delivery["next_attempt_at"] is not None  # 5 s later, then 5 min, 30 min, ... a day
    async with app.state.sessionmaker() as session:  # the test ends here, not the retries
        await session.execute(delete(Job))
        await session.commit()


async def test_an_internal_target_is_refused_at_delivery(
    app: FastAPI, client: httpx.AsyncClient, user: TestUser
) -> None:
    app.state.settings.webhook_allow_private = False
    await make_secret(client, user)
    async with webhook_receiver() as receiver:
        await send(app, user, receiver.url, id="run-3")
        items = await deliveries_until(client, user, lambda d: d[0]["status"] == "failed")
        assert receiver.received == []
    assert items[0]["status"] == "failed" and "loopback" in items[0]["attempts"][0]["error"]


async def test_deliveries_are_per_user(
    app: FastAPI, client: httpx.AsyncClient, user: TestUser, other_user: TestUser
) -> None:
    await make_secret(client, user)
    async with webhook_receiver() as receiver:
        await send(app, user, receiver.url, id="run-4")
        await receiver.wait_for(1)
    r = await client.get("/api/webhooks/deliveries", headers=other_user.headers)
    assert r.json() == [] and r.headers["X-Total-Count"] == "0"
