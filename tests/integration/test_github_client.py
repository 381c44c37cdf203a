"""GitHubClient against GitHub faked at its HTTP boundary (respx), checked against the REST description."""

from __future__ import annotations

import json

import httpx
import jsonschema
import pytest
import respx

from agent_service.integrations.github.client import GitHubClient
from agent_service.integrations.github.exceptions import GitHubError, GitHubRateLimited
from tests.github_rest import example_of, validate_request_body

API = "https://api.github.com"
NOW = 1_700_000_000.0


@pytest.fixture
async def github() -> GitHubClient:
    async with GitHubClient("ghp_test_token", clock=lambda: NOW) as client:
        yield client


@respx.mock
async def test_create_issue_comment(github: GitHubClient) -> None:
    comment = {**example_of("issue-comment"), "body": "AI Triage: P2"}
    route = respx.post(f"{API}/repos/octocat/Hello-World/issues/1347/comments").respond(
        201, json=comment
    )
    result = await github.create_issue_comment("octocat", "Hello-World", 1347, "AI Triage: P2")
    assert result["id"] == comment["id"]
    request = route.calls.last.request
    assert request.headers["authorization"] == "Bearer ghp_test_token"
    assert request.headers["accept"] == "application/vnd.github+json"
    assert request.headers["x-github-api-version"] == "2022-11-28"
    validate_request_body(
        "/repos/{owner}/{repo}/issues/{issue_number}/comments", "post", json.loads(request.content)
    )


@respx.mock
async def test_add_labels(github: GitHubClient) -> None:
    labels = [{"id": 208045946, "name": "bug", "color": "f29513", "default": True}]
    route = respx.post(f"{API}/repos/octocat/Hello-World/issues/1347/labels").respond(
        200, json=labels
    )
    assert await github.add_labels("octocat", "Hello-World", 1347, ["bug"]) == labels
    body = json.loads(route.calls.last.request.content)
    assert body == {"labels": ["bug"]}
    validate_request_body("/repos/{owner}/{repo}/issues/{issue_number}/labels", "post", body)


def test_the_schema_check_can_fail() -> None:
    with pytest.raises(jsonschema.ValidationError):
        validate_request_body(
            "/repos/{owner}/{repo}/issues/{issue_number}/comments", "post", {"text": "x"}
        )


@respx.mock
async def test_pull_request_diff_asks_for_the_diff_media_type(github: GitHubClient) -> None:
    diff = "diff --git a/README.md b/README.md\n+hello\n"
    route = respx.get(f"{API}/repos/octocat/Hello-World/pulls/7").respond(
        200, text=diff, headers={"content-type": "text/plain; charset=utf-8"}
    )
    assert await github.get_pull_request_diff("octocat", "Hello-World", 7) == diff
    assert route.calls.last.request.headers["accept"] == "application/vnd.github.diff"


@respx.mock
async def test_get_issue_on_github_enterprise() -> None:
    base = "https://ghe.example.com/api/v3"
    respx.get(f"{base}/repos/acme/app/issues/5").respond(200, json={"number": 5, "title": "Bug"})
    async with GitHubClient("t", base_url=base + "/") as client:
        assert (await client.get_issue("acme", "app", 5))["title"] == "Bug"


@respx.mock
async def test_primary_rate_limit_carries_wait_until_reset(github: GitHubClient) -> None:
    respx.post(f"{API}/repos/o/r/issues/1/labels").respond(
        403,
        json={"message": "API rate limit exceeded"},
        headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(NOW) + 42)},
    )
    with pytest.raises(GitHubRateLimited) as caught:
        await github.add_labels("o", "r", 1, ["bug"])
    assert caught.value.retry_after == 42
    assert isinstance(caught.value, httpx.HTTPStatusError)
    assert caught.value.response.status_code == 403


@respx.mock
async def test_secondary_rate_limit_honours_retry_after(github: GitHubClient) -> None:
    respx.post(f"{API}/repos/o/r/issues/1/comments").respond(
        429,
        json={"message": "You have exceeded a secondary rate limit"},
        headers={"retry-after": "30"},
    )
    with pytest.raises(GitHubRateLimited) as caught:
        await github.create_issue_comment("o", "r", 1, "hi")
    assert caught.value.retry_after == 30


@respx.mock
async def test_secondary_rate_limit_without_headers_waits_a_minute(github: GitHubClient) -> None:
    respx.get(f"{API}/repos/o/r/issues/1").respond(
        403, json={"message": "You have exceeded a secondary rate limit."}
    )
    with pytest.raises(GitHubRateLimited) as caught:
        await github.get_issue("o", "r", 1)
    assert caught.value.retry_after == 60


@respx.mock
async def test_other_errors_are_not_rate_limits(github: GitHubClient) -> None:
    respx.get(f"{API}/repos/o/r/issues/9").respond(404, json={"message": "Not Found"})
    with pytest.raises(GitHubError) as caught:
        await github.get_issue("o", "r", 9)
    assert not isinstance(caught.value, GitHubRateLimited)
    assert "Not Found" in str(caught.value)
    respx.get(f"{API}/repos/o/r/issues/10").respond(
        403, json={"message": "Resource not accessible"}
    )
    with pytest.raises(GitHubError) as caught:
        await github.get_issue("o", "r", 10)
    assert not isinstance(caught.value, GitHubRateLimited)
