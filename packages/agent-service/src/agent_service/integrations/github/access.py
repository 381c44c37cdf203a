"""What the coder agent may read on GitHub: the configured token, for allow-listed repositories only.

Webhooks treat an empty GITHUB_REPOSITORIES as "any repository whose deliveries are signed with
our secret"; tools run on what a user typed, so for them an empty list allows nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent_service.errors import Forbidden, UpstreamError
from agent_service.integrations.github.client import GitHubClient
from agent_service.settings import Settings


class RepositoryNotAllowed(Forbidden):
    code = "repository_not_allowed"


class GitHubNotConfigured(UpstreamError):
    code = "github_not_configured"

    def __init__(self) -> None:
        super().__init__("GitHub is not configured here: an operator must set GITHUB_TOKEN.")


@dataclass(frozen=True)
class GitHubAccess:
    token: str | None
    api_url: str
    repositories: frozenset[str]

    @classmethod
    def from_settings(cls, settings: Settings) -> GitHubAccess:
        token = settings.github_token.get_secret_value() if settings.github_token else None
        allowed = frozenset(r.strip().lower() for r in settings.github_repositories if r.strip())
        return cls(token, settings.github_api_url, allowed)

    def check(self, repository: str) -> tuple[str, str]:
        """(owner, name) of an allow-listed repository; otherwise an error the model can read."""
        if repository.lower() not in self.repositories:
            allowed = ", ".join(sorted(self.repositories)) or "none"
            raise RepositoryNotAllowed(
                f"Repository {repository!r} is not in the allow-list (GITHUB_REPOSITORIES: {allowed})."
            )
        owner, _, name = repository.partition("/")
        return owner, name

    def client(self) -> GitHubClient:
        if self.token is None:
            raise GitHubNotConfigured()
        return GitHubClient(self.token, self.api_url)
