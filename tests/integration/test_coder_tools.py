"""The coder agent reads GitHub (faked at its HTTP boundary) through allow-listed repositories only."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
import respx
from pydantic import SecretStr

from agent_service.settings import Settings
from agent_testkit import FakeLLM
from tests.conftest import use_fake_llm
from tests.factories import TestUser

GITHUB = "https://github.example.test/api/v3"
DIFF = "diff --git a/app.py b/app.py\n@@ -1 +1 @@\n-print('hi')\n+print('hello')\n"

pytestmark = pytest.mark.usefixtures("llm_waits")


@pytest.fixture
def settings(settings: Settings, fake_llm: FakeLLM) -> Settings:
    use_fake_llm(settings, fake_llm.base_url)
    settings.github_token = SecretStr("ghp_coder_token")
    settings.github_api_url = GITHUB
    settings.github_repositories = ["octocat/Hello-World"]
    return settings


@pytest.fixture
def github() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=GITHUB, assert_all_called=False) as router:
        yield router


async def ask_coder(client: httpx.AsyncClient, user: TestUser, text: str) -> dict:
    r = await client.post(
        "/api/agents/coder/chat",
        json={"messages": [{"role": "user", "content": text}]},
        headers=user.headers,
    )
    assert r.status_code == 200, r.text
    return r.json()


async def test_coder_reviews_a_pull_request_diff(
    client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM, github: respx.MockRouter
) -> None:
    route = github.get("/repos/octocat/Hello-World/pulls/7").respond(200, text=DIFF)
    fake_llm.script(
        fake_llm.tool_call("get_pull_request_diff", repository="octocat/Hello-World", pr_number=7),
        fake_llm.reply("The change only rewords a greeting; safe to merge."),
    )
    reply = await ask_coder(client, user, "Review PR 7 in octocat/Hello-World")
    assert reply["response"].startswith("The change only rewords")
    assert route.calls.last.request.headers["accept"] == "application/vnd.github.diff"
    assert route.calls.last.request.headers["authorization"] == "Bearer ghp_coder_token"
    sent = json.loads(fake_llm.calls[1].tool_result("get_pull_request_diff"))
    assert sent["diff"] == DIFF
    assert sent["truncated"] is False


async def test_coder_reads_an_issue(
    client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM, github: respx.MockRouter
) -> None:
    github.get("/repos/octocat/Hello-World/issues/3").respond(
        200,
        json={
            "number": 3,
            "title": "Crash on start",
            "state": "open",
            "body": "It crashes.",
            "user": {"login": "ada"},
            "labels": [{"name": "bug"}],
            "comments": 2,
            "html_url": "https://github.test/octocat/Hello-World/issues/3",
        },
    )
    fake_llm.script(
        fake_llm.tool_call("get_issue", repository="octocat/Hello-World", issue_number=3),
        fake_llm.reply("Issue 3 reports a crash at start-up."),
    )
    reply = await ask_coder(client, user, "What is issue 3 about?")
    [call] = reply["tool_calls"]
    assert call["is_error"] is False
    assert call["result"]["issue"]["labels"] == ["bug"]
    assert call["result"]["issue"]["author"] == "ada"


async def test_repository_outside_the_allow_list_is_an_error_for_the_model(
    client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM, github: respx.MockRouter
) -> None:
    route = github.get("/repos/acme/secret/pulls/1").respond(200, text=DIFF)
    fake_llm.script(
        fake_llm.tool_call("get_pull_request_diff", repository="acme/secret", pr_number=1),
        fake_llm.reply("I am not allowed to read that repository."),
    )
    reply = await ask_coder(client, user, "Show me acme/secret PR 1")
    [call] = reply["tool_calls"]
    assert call["is_error"] is True
    assert call["result"]["error"] == "repository_not_allowed"
    assert not route.called
    assert "allow-list" in fake_llm.calls[1].tool_result("get_pull_request_diff")


async def test_github_not_found_is_an_error_for_the_model(
    client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM, github: respx.MockRouter
) -> None:
    github.get("/repos/octocat/Hello-World/issues/999").respond(404, json={"message": "Not Found"})
    fake_llm.script(
        fake_llm.tool_call("get_issue", repository="octocat/Hello-World", issue_number=999),
        fake_llm.reply("That issue does not exist."),
    )
    reply = await ask_coder(client, user, "Read issue 999")
    [call] = reply["tool_calls"]
    assert call["is_error"] is True
    assert "no such issue" in call["result"]["detail"]


async def test_malformed_repository_argument_is_rejected_before_any_request(
    client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM, github: respx.MockRouter
) -> None:
    fake_llm.script(
        fake_llm.tool_call(
            "get_issue", unchecked=True, repository="../../etc/passwd", issue_number=1
        ),
        fake_llm.reply("Sorry."),
    )
    reply = await ask_coder(client, user, "Read issue 1 of ../../etc/passwd")
    [call] = reply["tool_calls"]
    assert call["result"]["error"] == "invalid_arguments"
    assert not github.calls


async def test_without_a_token_github_tools_say_what_to_set(
    client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM, settings: Settings
) -> None:
    settings.github_token = None
    fake_llm.script(
        fake_llm.tool_call("get_issue", repository="octocat/Hello-World", issue_number=1),
        fake_llm.reply("GitHub is not set up here."),
    )
    reply = await ask_coder(client, user, "Read issue 1")
    [call] = reply["tool_calls"]
    assert call["result"]["error"] == "github_not_configured"
    assert "GITHUB_TOKEN" in call["result"]["detail"]
