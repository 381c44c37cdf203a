"""The triage job when GitHub fails: a 5xx or a network error is retried (the triage is not asked
for again), a 4xx fails the delivery at once, and without GITHUB_TOKEN nothing is posted."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
import respx
from pydantic import SecretStr

from agent_service.settings import Settings
from agent_testkit import FakeLLM
from tests.conftest import use_fake_llm, use_fast_jobs
from tests.factories import TestUser
from tests.integration.test_github_triage import (
    GITHUB,
    REPO_PATH,
    SECRET,
    TRIAGE,
    comment_route,
    deliver_opened,
    wait_for_delivery,
)


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


def labels_failing_once(github: respx.MockRouter, first: httpx.Response | Exception) -> respx.Route:
    return github.post(f"{REPO_PATH}/labels").mock(
        side_effect=[first, httpx.Response(200, json=[])]
    )


@pytest.mark.parametrize(
    "first",
    [
        httpx.Response(500, json={"message": "Server Error"}),
        httpx.Response(503, json={"message": "Service Unavailable"}),
        httpx.ConnectError("GitHub is down"),
        httpx.ReadTimeout("GitHub went silent"),
    ],
    ids=["500", "503", "connect-error", "read-timeout"],
)
async def test_a_github_outage_is_retried_and_the_triage_is_asked_once(
    client: httpx.AsyncClient,
    admin: TestUser,
    fake_llm: FakeLLM,
    github: respx.MockRouter,
    first: httpx.Response | Exception,
) -> None:
    fake_llm.script(fake_llm.reply(json.dumps(TRIAGE)))  # a second question fails the test
    labels = labels_failing_once(github, first)
    comment = comment_route(github)

    await deliver_opened(client)
    delivery = await wait_for_delivery(client, admin, until={"done", "failed"})

    assert delivery["status"] == "done", delivery
    assert delivery["attempts"] == 2
    assert delivery["error"] is None and delivery["finished_at"] is not None
    assert delivery["triage"] == {**TRIAGE, "comment_url": "https://github.test/c/1"}
    assert labels.call_count == 2 and comment.call_count == 1


@pytest.mark.parametrize("status", [404, 422, 499])
async def test_a_github_refusal_fails_the_delivery_at_once(
    client: httpx.AsyncClient,
    admin: TestUser,
    fake_llm: FakeLLM,
    github: respx.MockRouter,
    status: int,
) -> None:
    fake_llm.script(fake_llm.reply(json.dumps(TRIAGE)))
    labels = github.post(f"{REPO_PATH}/labels").respond(
        status, json={"message": "Validation Failed"}
    )
    comment = comment_route(github)

    await deliver_opened(client)
    delivery = await wait_for_delivery(client, admin, until={"done", "failed"})

    assert delivery["status"] == "failed", delivery
    assert delivery["attempts"] == 1
    assert "Validation Failed" in delivery["error"]
    assert labels.call_count == 1 and not comment.called


async def test_without_a_token_nothing_is_posted_and_the_delivery_says_why(
    client: httpx.AsyncClient,
    admin: TestUser,
    fake_llm: FakeLLM,
    github: respx.MockRouter,
    settings: Settings,
) -> None:
    settings.github_token = None
    fake_llm.script(fake_llm.reply(json.dumps(TRIAGE)))
    labels = github.post(f"{REPO_PATH}/labels").respond(200, json=[])

    await deliver_opened(client)
    delivery = await wait_for_delivery(client, admin, until={"done", "failed"})

    assert delivery["status"] == "failed", delivery
    assert delivery["attempts"] == 1
    assert "GITHUB_TOKEN is not set" in delivery["error"]
    assert delivery["finished_at"] is not None
    assert delivery["triage"] == TRIAGE  # kept: a retry with a token would not ask again
    assert not labels.called
