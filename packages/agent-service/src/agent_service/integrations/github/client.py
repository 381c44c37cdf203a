"""An async GitHub REST client with exactly the calls the service makes.

Token auth, `GITHUB_API_URL` for GitHub Enterprise Server, and rate limits turned into
`GitHubRateLimited` carrying the wait GitHub asks for (Retry-After, else x-ratelimit-reset,
else a minute, as GitHub's rate-limit documentation says).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, cast

import httpx

from agent_service.integrations.github.exceptions import GitHubError, GitHubRateLimited
from agent_service.tls import tls_context

API_VERSION = "2022-11-28"
DEFAULT_SECONDARY_LIMIT_WAIT = 60.0


def rate_limit_wait(response: httpx.Response, *, now: float) -> float | None:
    """Seconds to wait when `response` is a rate-limit answer, else None."""
    if response.status_code not in (403, 429):
        return None
    headers = response.headers
    retry_after = headers.get("retry-after")
    if retry_after is not None:
        try:
            return max(0.0, float(retry_after))
        except ValueError:
            return DEFAULT_SECONDARY_LIMIT_WAIT
    if headers.get("x-ratelimit-remaining") == "0":
        reset = headers.get("x-ratelimit-reset")
        if reset is not None and reset.isdigit():
            return max(0.0, int(reset) - now)
        return DEFAULT_SECONDARY_LIMIT_WAIT
    if response.status_code == 429 or "rate limit" in response.text.lower():
        return DEFAULT_SECONDARY_LIMIT_WAIT
    return None


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return f"GitHub answered {response.status_code}"
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return f"GitHub answered {response.status_code}: {body['message']}"
    return f"GitHub answered {response.status_code}"


class GitHubClient:
    def __init__(
        self,
        token: str,
        base_url: str = "https://api.github.com",
        *,
        http_client: httpx.AsyncClient | None = None,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._owns_client = http_client is None
        self._http = http_client or httpx.AsyncClient(timeout=timeout, verify=tls_context())
        self._base_url = base_url.rstrip("/")
        self._clock = clock
        self._headers = {
            "Authorization": f"Bearer {token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": API_VERSION,
            "User-Agent": "agent-service",
        }

    async def __aenter__(self) -> GitHubClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._owns_client:
            await self._http.aclose()

    async def _request(
        self, method: str, path: str, *, json: Any = None, accept: str | None = None
    ) -> httpx.Response:
        headers = dict(self._headers)
        if accept:
            headers["Accept"] = accept
        response = await self._http.request(
            method, f"{self._base_url}{path}", json=json, headers=headers
        )
        if response.is_success:
            return response
        message = _message(response)
        wait = rate_limit_wait(response, now=self._clock())
        if wait is not None:
            raise GitHubRateLimited(
                message, retry_after=wait, request=response.request, response=response
            )
        raise GitHubError(message, request=response.request, response=response)

    async def create_issue_comment(
        self, owner: str, repo: str, issue_number: int, body: str
    ) -> dict[str, Any]:
        path = f"/repos/{owner}/{repo}/issues/{issue_number}/comments"
        response = await self._request("POST", path, json={"body": body})
        return cast(dict[str, Any], response.json())

    async def add_labels(
        self, owner: str, repo: str, issue_number: int, labels: Sequence[str]
    ) -> list[dict[str, Any]]:
        path = f"/repos/{owner}/{repo}/issues/{issue_number}/labels"
        response = await self._request("POST", path, json={"labels": list(labels)})
        return cast(list[dict[str, Any]], response.json())

    async def get_issue(self, owner: str, repo: str, issue_number: int) -> dict[str, Any]:
        response = await self._request("GET", f"/repos/{owner}/{repo}/issues/{issue_number}")
        return cast(dict[str, Any], response.json())

    async def get_pull_request_diff(self, owner: str, repo: str, pr_number: int) -> str:
        response = await self._request(
            "GET", f"/repos/{owner}/{repo}/pulls/{pr_number}", accept="application/vnd.github.diff"
        )
        return response.text
