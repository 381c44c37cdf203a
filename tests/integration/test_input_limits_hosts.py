"""The Host header chooses nothing: links come from PUBLIC_URL, and TRUSTED_HOSTS refuses the rest."""

from __future__ import annotations

import httpx
import pytest

from agent_service.settings import Settings
from tests.factories import TestUser

PUBLIC = "https://agents.example.test/base"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    settings.public_url = PUBLIC + "/"
    return settings


async def make_tasks(client: httpx.AsyncClient, user: TestUser, count: int) -> None:
    for i in range(count):
        r = await client.post("/api/tasks", json={"title": f"t{i}"}, headers=user.headers)
        assert r.status_code == 201


async def test_link_headers_point_at_public_url_whatever_the_host(
    client: httpx.AsyncClient, user: TestUser
) -> None:
    await make_tasks(client, user, 3)
    r = await client.get(
        "/api/tasks?limit=1&status=pending",
        headers={**user.headers, "Host": "evil.example", "X-Forwarded-Host": "evil.example"},
    )
    assert r.status_code == 200
    assert "evil" not in r.headers["link"]
    links = {rel: link["url"] for rel, link in r.links.items()}
    assert set(links) == {"next", "first", "last"}
    assert links["next"].startswith(f"{PUBLIC}/api/tasks?")
    assert "status=pending" in links["next"] and "offset=1" in links["next"]


async def test_any_host_is_answered_without_trusted_hosts(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/agents", headers={"Host": "anything.example"})
    assert r.status_code != 400


@pytest.mark.parametrize(
    ("host", "answered"),
    [
        ("agents.example.test", True),
        ("AGENTS.example.test:8443", True),
        ("eu.agents.example.test", True),
        ("agents.example.test.evil.example", False),
        ("evil.example", False),
        ("[::1]:8000", False),
    ],
)
async def test_trusted_hosts_refuse_other_hosts(
    client: httpx.AsyncClient, settings: Settings, user: TestUser, host: str, answered: bool
) -> None:
    settings.trusted_hosts = ["agents.example.test", "*.agents.example.test"]
    r = await client.get("/api/tasks", headers={**user.headers, "Host": host})
    if answered:
        assert r.status_code == 200, r.text
    else:
        assert r.status_code == 400, r.text
        assert r.json()["error"] == "untrusted_host"


async def test_probes_answer_any_host(client: httpx.AsyncClient, settings: Settings) -> None:
    settings.trusted_hosts = ["agents.example.test"]
    assert (await client.get("/healthz", headers={"Host": "10.0.0.7:8000"})).status_code == 200
    assert (await client.get("/api/agents", headers={"Host": "10.0.0.7"})).status_code == 400


def test_trusted_hosts_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRUSTED_HOSTS", "a.example, *.b.example")
    assert Settings(_env_file=None).trusted_hosts == ["a.example", "*.b.example"]  # type: ignore[call-arg]
