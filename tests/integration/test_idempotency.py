"""Idempotency-Key on the POSTs that create resources: one result per key, replayed, per user."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from agent_service.idempotency import service
from agent_service.idempotency.models import IdempotencyKey
from agent_service.settings import Settings
from tests.conftest import make_text_pdf
from tests.factories import TestUser


class FrozenClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def keyed(user: TestUser, key: str) -> dict[str, str]:
    return {**user.headers, "Idempotency-Key": key}


async def create_task(
    client: httpx.AsyncClient, user: TestUser, key: str, title: str = "Write tests"
) -> httpx.Response:
    return await client.post("/api/tasks", json={"title": title}, headers=keyed(user, key))


async def tasks_of(client: httpx.AsyncClient, user: TestUser) -> list[dict]:
    r = await client.get("/api/tasks", headers=user.headers)
    assert r.status_code == 200, r.text
    return list(r.json())


async def key_rows(app: FastAPI) -> int:
    async with app.state.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(IdempotencyKey)) or 0)


async def test_a_repeat_returns_the_first_result_marked_replayed(
    client: httpx.AsyncClient, user: TestUser
) -> None:
    first = await create_task(client, user, "key-1")
    again = await create_task(client, user, "key-1")

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert "idempotent-replayed" not in first.headers
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["content-type"] == first.headers["content-type"]
    assert again.headers["content-length"] == str(len(again.content))
    assert len(await tasks_of(client, user)) == 1


async def test_twenty_concurrent_requests_with_one_key_make_one_task(
    client: httpx.AsyncClient, user: TestUser
) -> None:
    answers = await asyncio.gather(*(create_task(client, user, "burst") for _ in range(20)))

    assert {r.status_code for r in answers} == {201}
    assert len({r.json()["id"] for r in answers}) == 1
    replayed = [r for r in answers if r.headers.get("idempotent-replayed") == "true"]
    assert len(replayed) == 19
    assert len(await tasks_of(client, user)) == 1


async def test_the_same_key_with_another_body_or_route_is_refused(
    client: httpx.AsyncClient, user: TestUser
) -> None:
    assert (await create_task(client, user, "key-2", "First")).status_code == 201

    other_body = await create_task(client, user, "key-2", "Second")
    other_route = await client.post(
        "/api/projects", json={"name": "First"}, headers=keyed(user, "key-2")
    )

    for refused in (other_body, other_route):
        assert refused.status_code == 422
        assert refused.json()["error"] == "idempotency_key_reused"
        assert "'key-2'" in refused.json()["detail"]
    assert [t["title"] for t in await tasks_of(client, user)] == ["First"]


async def test_keys_are_per_user(
    client: httpx.AsyncClient, user: TestUser, other_user: TestUser
) -> None:
    mine = await create_task(client, user, "shared-key")
    theirs = await create_task(client, other_user, "shared-key")

    assert mine.status_code == theirs.status_code == 201
    assert mine.json()["id"] != theirs.json()["id"]
    assert "idempotent-replayed" not in theirs.headers
    assert len(await tasks_of(client, other_user)) == 1


async def test_a_key_expires_after_24_hours_and_is_swept(
    app: FastAPI, client: httpx.AsyncClient, user: TestUser
) -> None:
    clock = FrozenClock(datetime(2026, 12, 1, 12, 0, tzinfo=UTC))
    app.state.sessionmaker.configure(info={"clock": clock})
    first = await create_task(client, user, "old-key")
    await create_task(client, user, "other-old-key")

    clock.now += timedelta(hours=23, minutes=59)
    assert (await create_task(client, user, "old-key")).headers["idempotent-replayed"] == "true"

    clock.now += timedelta(minutes=2)
    fresh = await create_task(client, user, "old-key")
    assert fresh.status_code == 201 and "idempotent-replayed" not in fresh.headers
    assert fresh.json()["id"] != first.json()["id"]
    assert await key_rows(app) == 1  # the expired keys are gone, the new one stays


async def test_any_new_key_sweeps_other_users_expired_keys(
    app: FastAPI, client: httpx.AsyncClient, user: TestUser, other_user: TestUser
) -> None:
    clock = FrozenClock(datetime(2026, 12, 1, 12, 0, tzinfo=UTC))
    app.state.sessionmaker.configure(info={"clock": clock})
    for key in ("a", "b", "c"):
        await create_task(client, user, key)
    clock.now += timedelta(hours=25)

    await create_task(client, other_user, "new")

    assert await key_rows(app) == 1


async def test_without_a_key_every_request_is_new(
    client: httpx.AsyncClient, user: TestUser
) -> None:
    for _ in range(2):
        r = await client.post("/api/tasks", json={"title": "Twice"}, headers=user.headers)
        assert r.status_code == 201
    assert len(await tasks_of(client, user)) == 2


async def test_a_key_on_a_read_is_not_looked_at(
    app: FastAPI, client: httpx.AsyncClient, user: TestUser
) -> None:
    before = await client.get("/api/tasks", headers=keyed(user, "read"))
    await create_task(client, user, "write")
    after = await client.get("/api/tasks", headers=keyed(user, "read"))

    assert before.json() == [] and len(after.json()) == 1
    assert "idempotent-replayed" not in after.headers
    assert await key_rows(app) == 1  # the POST's


async def test_a_malformed_key_is_refused(client: httpx.AsyncClient, user: TestUser) -> None:
    for bad in ("x" * 256, "two words"):
        r = await create_task(client, user, bad)
        assert (r.status_code, r.json()["error"]) == (400, "invalid_idempotency_key")
    assert await tasks_of(client, user) == []


async def test_without_a_valid_token_the_route_answers_401_and_no_key_is_kept(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    headers = {"Authorization": "Bearer not-a-token", "Idempotency-Key": "k"}
    r = await client.post("/api/tasks", json={"title": "x"}, headers=headers)

    assert r.status_code == 401
    assert await key_rows(app) == 0


async def test_a_client_error_is_the_answer_and_is_replayed(
    app: FastAPI, client: httpx.AsyncClient, user: TestUser
) -> None:
    refused = await client.post(
        "/api/tasks", json={"title": "x", "project_id": "nope"}, headers=keyed(user, "k-404")
    )
    assert refused.status_code in (404, 422)
    # a 4xx (other than 408/409/425/429) is the answer to that body: replayed, not recomputed
    again = await client.post(
        "/api/tasks", json={"title": "x", "project_id": "nope"}, headers=keyed(user, "k-404")
    )
    assert (again.status_code, again.headers["idempotent-replayed"]) == (
        refused.status_code,
        "true",
    )


async def test_projects_and_conversations_are_created_once(
    client: httpx.AsyncClient, user: TestUser
) -> None:
    for path, body in (
        ("/api/projects", {"name": "Launch"}),
        ("/api/conversations", {"agent_type": "assistant"}),
    ):
        first = await client.post(path, json=body, headers=keyed(user, f"k{path}"))
        again = await client.post(path, json=body, headers=keyed(user, f"k{path}"))
        assert first.status_code == 201, first.text
        assert again.json()["id"] == first.json()["id"]
        assert again.headers["idempotent-replayed"] == "true"
        listed = await client.get(path, headers=user.headers)
        assert len(listed.json()) == 1


async def test_an_upload_retried_with_a_new_boundary_is_one_document(
    client: httpx.AsyncClient, user: TestUser
) -> None:
    pdf = make_text_pdf(["Idempotent uploads"])

    answers = [
        await client.post(
            "/api/documents",
            files={"file": ("notes.pdf", pdf, "application/pdf")},  # httpx draws a new boundary
            headers=keyed(user, "upload-1"),
        )
        for _ in range(2)
    ]
    other_file = await client.post(
        "/api/documents",
        files={"file": ("notes.pdf", pdf + b"\n", "application/pdf")},
        headers=keyed(user, "upload-1"),
    )

    assert [r.status_code for r in answers] == [202, 202]
    assert answers[1].json()["id"] == answers[0].json()["id"]
    assert answers[1].headers["idempotent-replayed"] == "true"
    assert other_file.status_code == 422
    assert len((await client.get("/api/documents", headers=user.headers)).json()) == 1


async def test_a_repeat_waits_for_the_first_then_gives_up_with_409(
    app: FastAPI, client: httpx.AsyncClient, user: TestUser, settings: Settings
) -> None:
    # a claim whose request never completes (say its process died): repeats wait, then 409
    settings.idempotency_wait_s = 0.3
    assert await service.claim_key(app.state.sessionmaker, user.id, "stuck") is not None

    r = await create_task(client, user, "stuck")

    assert (r.status_code, r.json()["error"]) == (409, "idempotency_key_in_use")
    assert r.headers["retry-after"] == "1"
    assert await tasks_of(client, user) == []


async def test_an_answer_whose_client_went_away_while_it_was_sent_is_kept(
    app: FastAPI, client: httpx.AsyncClient, user: TestUser
) -> None:
    headers = {**keyed(user, "gone"), "Content-Type": "application/json"}
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/tasks",
        "raw_path": b"/api/tasks",
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    messages = [{"type": "http.request", "body": b'{"title": "Once"}', "more_body": False}]

    async def receive() -> dict:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        if message["type"] == "http.response.body":
            raise OSError("the client closed the connection")  # as a server's send does then

    with pytest.raises(OSError, match="client closed"):
        await app(scope, receive, send)

    retried = await client.post("/api/tasks", content=b'{"title": "Once"}', headers=headers)
    assert retried.status_code == 201
    assert retried.headers["idempotent-replayed"] == "true"
    assert [t["title"] for t in await tasks_of(client, user)] == ["Once"]
