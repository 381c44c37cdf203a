"""POST /webhooks/github with GitHub's real payloads: signatures, redelivery, limits, event kinds."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from agent_service.settings import Settings
from agent_testkit import github_webhook, sign_github_webhook
from tests.factories import TestUser

PAYLOADS = Path(__file__).parent.parent / "fixtures" / "github-webhooks"
SECRET = "webhook-secret-for-tests"


def payload_bytes(name: str) -> bytes:
    return (PAYLOADS / f"{name}.payload.json").read_bytes()


@pytest.fixture
def webhook_settings(settings: Settings) -> Settings:
    settings.github_webhook_secret = SecretStr(SECRET)
    return settings


async def deliver(
    client: httpx.AsyncClient, name: str, event: str, *, delivery_id: str | None = None
) -> httpx.Response:
    body, headers = github_webhook(
        SECRET, payload_bytes(name), event=event, delivery_id=delivery_id
    )
    return await client.post("/webhooks/github", content=body, headers=headers)


@pytest.mark.usefixtures("webhook_settings")
async def test_ping_is_accepted_and_done_at_once(
    client: httpx.AsyncClient, admin: TestUser
) -> None:
    r = await deliver(client, "ping", "ping", delivery_id="ping-1")
    assert r.status_code == 200
    assert r.json() == {"status": "accepted"}
    [delivery] = (
        await client.get("/api/integrations/github/deliveries", headers=admin.headers)
    ).json()
    assert (delivery["delivery_id"], delivery["event"]) == ("ping-1", "ping")
    assert delivery["status"] == "done" and delivery["finished_at"] is not None
    assert delivery["error"] is None and delivery["triage"] is None


@pytest.mark.usefixtures("webhook_settings")
@pytest.mark.parametrize(
    ("name", "event"),
    [
        ("issues.labeled", "issues"),
        ("issue_comment.created", "issue_comment"),
        ("pull_request.opened", "pull_request"),
    ],
)
async def test_events_we_do_not_act_on_are_ignored(
    client: httpx.AsyncClient, admin: TestUser, name: str, event: str
) -> None:
    r = await deliver(client, name, event)
    assert r.status_code == 200
    assert r.json() == {"status": "ignored"}
    [delivery] = (
        await client.get("/api/integrations/github/deliveries", headers=admin.headers)
    ).json()
    assert delivery["status"] == "ignored" and delivery["finished_at"] is not None


@pytest.mark.usefixtures("webhook_settings")
async def test_missing_signature_is_401(client: httpx.AsyncClient) -> None:
    _, headers = github_webhook(SECRET, payload_bytes("ping"), event="ping")
    del headers["X-Hub-Signature-256"]
    r = await client.post("/webhooks/github", content=payload_bytes("ping"), headers=headers)
    assert r.status_code == 401
    assert r.json()["error"] == "invalid_signature"


@pytest.mark.usefixtures("webhook_settings")
async def test_wrong_secret_is_401(client: httpx.AsyncClient) -> None:
    body, headers = github_webhook("not-the-secret", payload_bytes("ping"), event="ping")
    r = await client.post("/webhooks/github", content=body, headers=headers)
    assert r.status_code == 401


@pytest.mark.usefixtures("webhook_settings")
async def test_signature_of_another_body_is_401(client: httpx.AsyncClient) -> None:
    """A valid signature replayed with a changed body (stale body) does not pass."""
    body, headers = github_webhook(SECRET, payload_bytes("ping"), event="ping")
    tampered = body.replace(b'"zen"', b'"Zen"', 1)
    assert tampered != body
    r = await client.post("/webhooks/github", content=tampered, headers=headers)
    assert r.status_code == 401


@pytest.mark.usefixtures("webhook_settings")
async def test_signature_is_checked_before_parsing(client: httpx.AsyncClient) -> None:
    body = b"{not json"
    _, headers = github_webhook("wrong", body, event="issues")
    assert (await client.post("/webhooks/github", content=body, headers=headers)).status_code == 401
    headers["X-Hub-Signature-256"] = sign_github_webhook(SECRET, body)
    r = await client.post("/webhooks/github", content=body, headers=headers)
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_webhook"


@pytest.mark.usefixtures("webhook_settings")
async def test_json_that_is_not_an_object_is_400(client: httpx.AsyncClient) -> None:
    body, headers = github_webhook(SECRET, b"[1, 2]", event="issues")
    r = await client.post("/webhooks/github", content=body, headers=headers)
    assert r.status_code == 400


@pytest.mark.usefixtures("webhook_settings")
async def test_missing_delivery_header_is_400(client: httpx.AsyncClient) -> None:
    body, headers = github_webhook(SECRET, payload_bytes("ping"), event="ping")
    del headers["X-GitHub-Delivery"]
    r = await client.post("/webhooks/github", content=body, headers=headers)
    assert r.status_code == 400
    assert "X-GitHub-Delivery" in r.json()["detail"] or "x-github-delivery" in r.json()["detail"]


async def test_oversized_body_is_413(client: httpx.AsyncClient, webhook_settings: Settings) -> None:
    webhook_settings.github_webhook_max_bytes = 4096
    body, headers = github_webhook(SECRET, payload_bytes("issues.opened"), event="issues")
    assert len(body) > 4096
    r = await client.post("/webhooks/github", content=body, headers=headers)
    assert r.status_code == 413

    async def chunks():  # no Content-Length: the limit holds while streaming too
        for start in range(0, len(body), 1000):
            yield body[start : start + 1000]

    r = await client.post("/webhooks/github", content=chunks(), headers=headers)
    assert r.status_code == 413


async def test_webhook_off_without_a_secret(client: httpx.AsyncClient) -> None:
    body, headers = github_webhook(SECRET, payload_bytes("ping"), event="ping")
    r = await client.post("/webhooks/github", content=body, headers=headers)
    assert r.status_code == 503
    assert "GITHUB_WEBHOOK_SECRET" in r.json()["detail"]


@pytest.mark.usefixtures("webhook_settings")
async def test_redelivery_is_acknowledged_once(client: httpx.AsyncClient, admin: TestUser) -> None:
    first = await deliver(client, "issues.labeled", "issues", delivery_id="d-1")
    again = await deliver(client, "issues.labeled", "issues", delivery_id="d-1")
    assert first.json() == {"status": "ignored"}
    assert again.status_code == 200
    assert again.json() == {"status": "duplicate"}
    r = await client.get("/api/integrations/github/deliveries", headers=admin.headers)
    assert r.status_code == 200
    assert [d["delivery_id"] for d in r.json()] == ["d-1"]


@pytest.mark.usefixtures("webhook_settings")
async def test_deliveries_are_admin_only(client: httpx.AsyncClient, user: TestUser) -> None:
    r = await client.get("/api/integrations/github/deliveries", headers=user.headers)
    assert r.status_code == 403
    assert (await client.get("/api/integrations/github/deliveries")).status_code == 401


async def test_repository_outside_the_allow_list_is_ignored(
    client: httpx.AsyncClient, webhook_settings: Settings
) -> None:
    webhook_settings.github_repositories = ["acme/other"]
    r = await deliver(client, "issues.opened", "issues")
    assert r.json() == {"status": "ignored"}


def test_fixture_payloads_are_the_real_ones() -> None:
    opened = json.loads(payload_bytes("issues.opened"))
    assert opened["action"] == "opened"
    assert opened["repository"]["full_name"] == "Codertocat/Hello-World"
