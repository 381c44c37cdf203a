"""The whole triage flow: signed `issues.opened` → job → LLM (kit fake) → labels and comment on
GitHub (faked at its HTTP boundary with respx, request bodies checked against the REST description)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import respx
from pydantic import SecretStr

from agent_service.integrations.github.triage import response_format
from agent_service.settings import Settings
from agent_testkit import FakeLLM, github_webhook
from tests.conftest import use_fake_llm, use_fast_jobs
from tests.factories import TestUser
from tests.github_rest import example_of, validate_request_body

PAYLOADS = Path(__file__).parent.parent / "fixtures" / "github-webhooks"
SECRET = "triage-webhook-secret"
GITHUB = "https://github.example.test/api/v3"
REPO_PATH = "/repos/Codertocat/Hello-World/issues/1"
# Seed 001's structured output: {labels, priority, comment}
TRIAGE = {
    "labels": ["bug", "documentation"],
    "priority": "P2",
    "comment": "A typo in the README ('commmit'). Fix the spelling.",
}


@pytest.fixture
def settings(settings: Settings, fake_llm: FakeLLM) -> Settings:
    use_fast_jobs(use_fake_llm(settings, fake_llm.base_url))
    settings.github_webhook_secret = SecretStr(SECRET)
    settings.github_token = SecretStr("ghs_installation_token")
    settings.github_api_url = GITHUB
    return settings


@pytest.fixture
def github() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=GITHUB, assert_all_called=False) as router:
        yield router


def labels_route(github: respx.MockRouter) -> respx.Route:
    return github.post(f"{REPO_PATH}/labels").respond(
        200,
        json=[{"id": 1, "name": n, "color": "ededed", "default": False} for n in TRIAGE["labels"]],
    )


def comment_route(github: respx.MockRouter) -> respx.Route:
    comment = {**example_of("issue-comment"), "html_url": "https://github.test/c/1"}
    return github.post(f"{REPO_PATH}/comments").respond(201, json=comment)


async def deliver_opened(client: httpx.AsyncClient, delivery_id: str = "opened-1") -> None:
    payload = (PAYLOADS / "issues.opened.payload.json").read_bytes()
    body, headers = github_webhook(SECRET, payload, event="issues", delivery_id=delivery_id)
    r = await client.post("/webhooks/github", content=body, headers=headers)
    assert r.status_code == 200
    assert r.json() == {"status": "accepted"}


async def wait_for_delivery(client: httpx.AsyncClient, admin: TestUser, *, until: set[str]) -> dict:
    """Polls the admin's list until the one delivery reaches a status in `until` (10 s at most)."""
    async with asyncio.timeout(10):
        while True:
            r = await client.get("/api/integrations/github/deliveries", headers=admin.headers)
            [delivery] = r.json()
            if delivery["status"] in until:
                return delivery
            await asyncio.sleep(0.05)


async def test_opened_issue_is_labelled_and_commented(
    client: httpx.AsyncClient, admin: TestUser, fake_llm: FakeLLM, github: respx.MockRouter
) -> None:
    fake_llm.script(fake_llm.reply(json.dumps(TRIAGE)))
    labels, comment = labels_route(github), comment_route(github)

    await deliver_opened(client)
    delivery = await wait_for_delivery(client, admin, until={"done", "failed"})

    assert delivery["status"] == "done", delivery
    assert delivery["triage"]["priority"] == "P2"
    labels_body = json.loads(labels.calls.last.request.content)
    assert labels_body == {"labels": ["bug", "documentation"]}
    validate_request_body("/repos/{owner}/{repo}/issues/{issue_number}/labels", "post", labels_body)
    comment_body = json.loads(comment.calls.last.request.content)
    validate_request_body(
        "/repos/{owner}/{repo}/issues/{issue_number}/comments", "post", comment_body
    )
    assert comment_body["body"].startswith("AI Triage:")
    assert "P2" in comment_body["body"]
    assert TRIAGE["comment"] in comment_body["body"]
    assert comment.calls.last.request.headers["authorization"] == "Bearer ghs_installation_token"

    [call] = fake_llm.calls
    assert "Spelling error in the README file" in call.last_user_message
    assert call.request["response_format"] == response_format()
    assert "untrusted" in call.system_prompt


async def test_invalid_reply_is_retried_once_then_accepted(
    client: httpx.AsyncClient, admin: TestUser, fake_llm: FakeLLM, github: respx.MockRouter
) -> None:
    fake_llm.script(
        fake_llm.reply(json.dumps({**TRIAGE, "priority": "P9"}), unchecked=True),
        fake_llm.reply(json.dumps(TRIAGE)),
    )
    labels_route(github)
    comment_route(github)
    await deliver_opened(client)
    delivery = await wait_for_delivery(client, admin, until={"done", "failed"})
    assert delivery["status"] == "done"
    assert "priority" in fake_llm.calls[1].last_user_message


async def test_two_invalid_replies_fail_the_delivery(
    client: httpx.AsyncClient, admin: TestUser, fake_llm: FakeLLM, github: respx.MockRouter
) -> None:
    fake_llm.script(
        fake_llm.reply("Looks like a bug to me!", unchecked=True),
        fake_llm.reply("{}", unchecked=True),
    )
    labels = labels_route(github)
    await deliver_opened(client)
    delivery = await wait_for_delivery(client, admin, until={"done", "failed"})
    assert delivery["status"] == "failed"
    assert "did not match the schema" in delivery["error"]
    assert not labels.called


async def test_github_rate_limit_retries_after_the_wait(
    client: httpx.AsyncClient, admin: TestUser, fake_llm: FakeLLM, github: respx.MockRouter
) -> None:
    fake_llm.script(fake_llm.reply(json.dumps(TRIAGE)))  # asked once: the result is kept
    github.post(f"{REPO_PATH}/labels").mock(
        side_effect=[
            httpx.Response(
                403,
                json={"message": "You have exceeded a secondary rate limit"},
                headers={"retry-after": "1"},
            ),
            httpx.Response(200, json=[]),
        ]
    )
    comment = comment_route(github)
    started = asyncio.get_running_loop().time()
    await deliver_opened(client)
    delivery = await wait_for_delivery(client, admin, until={"done", "failed"})
    assert delivery["status"] == "done", delivery
    assert asyncio.get_running_loop().time() - started >= 1.0  # waited what GitHub asked
    assert delivery["attempts"] == 2
    assert comment.call_count == 1


async def test_redelivered_opened_issue_is_triaged_once(
    client: httpx.AsyncClient, admin: TestUser, fake_llm: FakeLLM, github: respx.MockRouter
) -> None:
    fake_llm.script(fake_llm.reply(json.dumps(TRIAGE)))
    labels_route(github)
    comment = comment_route(github)
    await deliver_opened(client, "same-id")
    payload = (PAYLOADS / "issues.opened.payload.json").read_bytes()
    body, headers = github_webhook(SECRET, payload, event="issues", delivery_id="same-id")
    r = await client.post("/webhooks/github", content=body, headers=headers)
    assert r.json() == {"status": "duplicate"}
    await wait_for_delivery(client, admin, until={"done"})
    assert comment.call_count == 1
    assert len(fake_llm.calls) == 1


@pytest.mark.parametrize(
    "reply",
    [
        # an older shape: a summary instead of the comment
        {"priority": "P2", "labels": ["bug"], "summary": "A typo in the README."},
        # more than asked for: extra fields are optional, not refused
        {**TRIAGE, "summary": "Typo.", "confidence": 0.9, "duplicate_of": None},
        # the model wrote the prefix itself, and no labels
        {"labels": [], "priority": "P2", "comment": "AI Triage: a typo in the README."},
    ],
    ids=["summary-only", "extra-fields", "own-prefix-no-labels"],
)
async def test_replies_beyond_the_seed_shape_are_accepted_the_first_time(
    client: httpx.AsyncClient,
    admin: TestUser,
    fake_llm: FakeLLM,
    github: respx.MockRouter,
    reply: dict,
) -> None:
    fake_llm.script(fake_llm.reply(json.dumps(reply), unchecked=True))  # off the strict schema
    labels, comment = labels_route(github), comment_route(github)
    await deliver_opened(client)
    delivery = await wait_for_delivery(client, admin, until={"done", "failed"})

    assert delivery["status"] == "done", delivery
    assert delivery["finished_at"] is not None and len(fake_llm.calls) == 1
    body = json.loads(comment.calls.last.request.content)["body"]
    assert body.startswith("AI Triage: priority **P2**")
    assert body.count("AI Triage:") == 1
    assert "typo in the readme" in body.lower()
    assert labels.called == bool(reply["labels"])
