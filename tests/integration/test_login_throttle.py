"""Login throttling: per account and per client address, in the database, exponential, reset by
a success; the hash is computed off the event loop."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update

from agent_service.app import create_app
from agent_service.auth.models import LoginThrottle
from agent_service.auth.throttle import account_key
from agent_service.db import utcnow
from agent_service.settings import Settings
from tests.factories import TestUser


@pytest.fixture
def settings(settings: Settings) -> Settings:
    settings.login_max_failures = 3
    return settings


async def login(
    client: httpx.AsyncClient, email: str, password: str, *, form: bool = False
) -> httpx.Response:
    if form:
        return await client.post("/api/auth/token", data={"username": email, "password": password})
    return await client.post("/api/auth/login", json={"email": email, "password": password})


async def fail(client: httpx.AsyncClient, email: str, times: int) -> None:
    for _ in range(times):
        r = await login(client, email, "wrong-password-1")
        assert r.status_code == 401, r.text


async def test_after_max_failures_even_the_right_password_waits(
    client: httpx.AsyncClient, user: TestUser
) -> None:
    await fail(client, user.email, 3)
    for form in (False, True):
        r = await login(client, user.email, user.password, form=form)
        assert r.status_code == 429
        assert r.json()["error"] == "too_many_attempts"
        wait = int(r.headers["Retry-After"])
        assert wait == 1
        assert f"try again in {wait} second" in r.json()["detail"]


async def test_the_wait_doubles_with_each_further_failure(
    app: FastAPI, client: httpx.AsyncClient, user: TestUser
) -> None:
    await fail(client, user.email, 3)
    waits = []
    for _ in range(3):
        await _expire_blocks(app)  # as if the wait had passed
        assert (await login(client, user.email, "wrong-password-1")).status_code == 401
        r = await login(client, user.email, "wrong-password-1")
        assert r.status_code == 429
        waits.append(int(r.headers["Retry-After"]))
    assert waits == [2, 4, 8]


async def test_a_success_resets_the_account(client: httpx.AsyncClient, user: TestUser) -> None:
    await fail(client, user.email, 2)
    assert (await login(client, user.email, user.password)).status_code == 200
    await fail(client, user.email, 2)  # two more are allowed again, not one
    assert (await login(client, user.email, user.password)).status_code == 200


async def test_unknown_accounts_are_throttled_alike(client: httpx.AsyncClient) -> None:
    await fail(client, "nobody@example.com", 3)
    r = await login(client, "nobody@example.com", "wrong-password-1")
    assert r.status_code == 429


async def test_one_address_guessing_at_many_accounts_is_throttled(
    app: FastAPI, client: httpx.AsyncClient, user: TestUser
) -> None:
    """Four times the account's limit per address; a success elsewhere does not clear it."""
    for i in range(12):
        assert (await login(client, f"guess{i}@example.com", "wrong-password-1")).status_code == 401
        if i == 5:
            assert (await login(client, user.email, user.password)).status_code == 200
    r = await login(client, "another@example.com", "wrong-password-1")
    assert r.status_code == 429
    other_address = httpx.ASGITransport(app=app, client=("10.0.0.9", 1234))
    async with httpx.AsyncClient(transport=other_address, base_url="http://testserver") as other:
        assert (await login(other, user.email, user.password)).status_code == 200


async def test_a_refused_login_is_held_while_others_are_answered(
    app: FastAPI, settings: Settings, client: httpx.AsyncClient, user: TestUser
) -> None:
    """A client hammering a blocked account gets about one answer a second per connection: the
    429 waits (up to LOGIN_REFUSAL_HOLD_S) outside the login gate, while every other request,
    another account's login included, is answered."""
    settings.login_refusal_hold_s = 10.0
    await fail(client, user.email, 3)
    await _expire_blocks(app, until=utcnow() + timedelta(seconds=60))
    refused = [asyncio.create_task(login(client, user.email, "wrong-password-1")) for _ in range(8)]
    other_address = httpx.ASGITransport(app=app, client=("10.0.0.9", 1234))
    async with httpx.AsyncClient(transport=other_address, base_url="http://testserver") as other:
        for _ in range(3):
            assert (await login(other, "x@example.com", "wrong-password-1")).status_code == 401
    assert (await client.get("/healthz")).status_code == 200
    assert not any(task.done() for task in refused)  # held: 10 s, not answered at once
    for r in await asyncio.wait_for(asyncio.gather(*refused), 60):
        assert r.status_code == 429 and r.headers["Retry-After"] == "60"


async def test_the_count_holds_across_replicas(
    settings: Settings, client: httpx.AsyncClient, user: TestUser
) -> None:
    await fail(client, user.email, 3)
    async with replica(settings) as second:
        r = await login(second, user.email, user.password)
    assert r.status_code == 429


async def test_nul_in_the_form_login_is_422(client: httpx.AsyncClient) -> None:
    for field in ("username", "password"):
        data = {"username": "a@example.com", "password": "some-password", field: "\x00a"}
        r = await client.post("/api/auth/token", data=data)
        assert r.status_code == 422, r.text
        assert r.json()["errors"][0]["field"] == field


async def test_hashing_leaves_the_event_loop_free(
    settings: Settings, client: httpx.AsyncClient, user: TestUser
) -> None:
    """Logins whose hashes queue for one worker do not hold /healthz behind them."""
    settings.argon2_time_cost = 40  # tens of milliseconds a hash
    settings.password_hash_workers = 1
    settings.login_max_failures = 100
    logins = [
        asyncio.create_task(login(client, f"n{i}@example.com", "wrong-password-1"))
        for i in range(6)
    ]
    done, _ = await asyncio.wait(logins, timeout=60, return_when=asyncio.FIRST_COMPLETED)
    assert done, "no login ended"
    health = await asyncio.wait_for(client.get("/healthz"), timeout=30)
    assert health.status_code == 200
    pending = [task for task in logins if not task.done()]
    assert len(pending) >= 3, "healthz waited behind the queued hashes"
    results = await asyncio.wait_for(asyncio.gather(*logins), timeout=60)
    assert {r.status_code for r in results} == {401}


async def test_throttle_rows_name_no_email(app: FastAPI, client: httpx.AsyncClient) -> None:
    await fail(client, "private@example.com", 1)
    async with app.state.sessionmaker() as session:
        keys = set(await session.scalars(select(LoginThrottle.key)))
    assert account_key("private@example.com") in keys
    assert not any("private" in key for key in keys)


async def _expire_blocks(app: FastAPI, until: datetime | None = None) -> None:
    """Every block ends now (as if its wait had passed), or at `until`."""
    async with app.state.sessionmaker() as session:
        await session.execute(
            update(LoginThrottle).values(blocked_until=until or utcnow() - timedelta(seconds=1))
        )
        await session.commit()


@contextlib.asynccontextmanager
async def replica(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A second app (its own engine and pools) on the same database, as another replica is."""
    second = create_app(settings)
    async with second.router.lifespan_context(second):
        transport = httpx.ASGITransport(app=second, client=("10.0.0.7", 4321))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client
