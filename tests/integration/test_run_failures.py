"""A run that fails on an error with headers keeps them: a JSON turn whose model is rate limited
for longer than we wait answers 429 with the provider's Retry-After, from the run's stored error."""

from __future__ import annotations

import httpx
import pytest

from agent_service.settings import Settings
from agent_testkit import FakeLLM
from tests.conftest import use_fake_llm
from tests.factories import TestUser


@pytest.fixture
def settings(settings: Settings, fake_llm: FakeLLM) -> Settings:
    settings.llm_max_retries = 0
    return use_fake_llm(settings, fake_llm.base_url)


async def test_a_rate_limited_turn_answers_the_providers_retry_after(
    client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM
) -> None:
    fake_llm.script(fake_llm.rate_limited(retry_after=120))

    r = await client.post("/api/agent/chat", json={"message": "hi"}, headers=user.headers)

    assert (r.status_code, r.json()["error"]) == (429, "llm_rate_limited"), r.text
    assert r.headers["Retry-After"] == "120"
    run = (await client.get(f"/api/runs/{r.headers['X-Run-Id']}", headers=user.headers)).json()
    assert run["status"] == "failed" and run["error"]["error"] == "llm_rate_limited"
