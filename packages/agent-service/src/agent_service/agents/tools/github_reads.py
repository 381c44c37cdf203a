"""`get_issue` and `get_pull_request_diff`: the coder agent reads GitHub, allow-listed repos only."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from agent_service.agents.tool import JSONObject, Tool, ToolContext
from agent_service.errors import InvalidRequest, UpstreamError
from agent_service.integrations.github.access import GitHubAccess, GitHubNotConfigured
from agent_service.integrations.github.exceptions import GitHubError, GitHubRateLimited

MAX_BODY_CHARS = 4000
MAX_DIFF_CHARS = 20_000
REPOSITORY = Field(
    pattern=r"^[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}$",
    description="The repository as owner/name, e.g. octocat/Hello-World.",
)


class GitHubToolFailed(UpstreamError):
    code = "github_error"


class GetIssueArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    repository: str = REPOSITORY
    issue_number: int = Field(ge=1, description="The issue's number.")


class GetPullRequestDiffArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    repository: str = REPOSITORY
    pr_number: int = Field(ge=1, description="The pull request's number.")


def _access(context: ToolContext) -> GitHubAccess:
    if context.github is None:
        raise GitHubNotConfigured()
    return context.github


def _failed(exc: GitHubError) -> UpstreamError | InvalidRequest:
    if isinstance(exc, GitHubRateLimited):
        return GitHubToolFailed(
            f"GitHub is rate limiting us; try again in {exc.retry_after:.0f} s."
        )
    if exc.response.status_code == 404:
        return InvalidRequest("GitHub has no such issue or pull request (or it is private).")
    return GitHubToolFailed(exc.message)


async def get_issue(context: ToolContext, args: GetIssueArgs) -> JSONObject:
    access = _access(context)
    owner, name = access.check(args.repository)
    try:
        async with access.client() as github:
            issue = await github.get_issue(owner, name, args.issue_number)
    except GitHubError as exc:
        raise _failed(exc) from exc
    body = issue.get("body") or ""
    return {
        "issue": {
            "number": issue.get("number"),
            "title": issue.get("title"),
            "state": issue.get("state"),
            "author": (issue.get("user") or {}).get("login"),
            "labels": [label.get("name") for label in issue.get("labels") or []],
            "comments": issue.get("comments"),
            "url": issue.get("html_url"),
            "body": body[:MAX_BODY_CHARS],
            "body_truncated": len(body) > MAX_BODY_CHARS,
        }
    }


async def get_pull_request_diff(context: ToolContext, args: GetPullRequestDiffArgs) -> JSONObject:
    access = _access(context)
    owner, name = access.check(args.repository)
    try:
        async with access.client() as github:
            diff = await github.get_pull_request_diff(owner, name, args.pr_number)
    except GitHubError as exc:
        raise _failed(exc) from exc
    return {
        "repository": args.repository,
        "pr_number": args.pr_number,
        "diff": diff[:MAX_DIFF_CHARS],
        "truncated": len(diff) > MAX_DIFF_CHARS,
    }


GET_ISSUE = Tool(
    name="get_issue",
    description="Read a GitHub issue (title, state, labels, body) of an allow-listed repository.",
    args_model=GetIssueArgs,
    fn=get_issue,
    transactional=False,
)
GET_PULL_REQUEST_DIFF = Tool(
    name="get_pull_request_diff",
    description="Read the unified diff of a GitHub pull request of an allow-listed repository.",
    args_model=GetPullRequestDiffArgs,
    fn=get_pull_request_diff,
    transactional=False,
)
