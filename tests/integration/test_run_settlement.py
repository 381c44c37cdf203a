"""A run cut short after a tool step is charged its steps' reported usage and, for the text it
streamed after its last counted step only, one token per four characters (the text before the
step is in the step's usage report already)."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from agent_service.settings import Settings
from agent_testkit import FakeLLM, parse_sse
from tests.conftest import use_fake_llm
from tests.factories import TestUser
from tests.integration.test_quota_reservations import settled


@pytest.fixture
def settings(settings: Settings, fake_llm: FakeLLM) -> Settings:
    settings.llm_max_retries = 0
    settings.user_daily_token_quota = 10**6  # a reservation, given back with the count
    return use_fake_llm(settings, fake_llm.base_url)


async def test_only_the_text_after_the_last_counted_step_is_estimated(
    app: FastAPI, client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM
) -> None:
    fake_llm.script(
        fake_llm.tool_calls([("list_tasks", {})], content="Looking at your tasks first. "),
        # ten words of four characters, then the provider drops the stream: no usage report
        fake_llm.cut_stream(after=11, item=fake_llm.reply("abc " * 30)),
    )

    r = await client.post("/api/agent/chat/stream", json={"message": "go"}, headers=user.headers)

    events = parse_sse(r.text)
    names = [e.event for e in events]
    assert names[-1] == "error", names
    after_step = names.index("tool.result")
    before = "".join(e.json()["delta"] for e in events[:after_step] if e.event == "message.delta")
    after = "".join(e.json()["delta"] for e in events[after_step:] if e.event == "message.delta")
    assert before == "Looking at your tasks first. " and after == "abc " * 10
    run = (await client.get(f"/api/runs/{r.headers['x-run-id']}", headers=user.headers)).json()
    assert run["status"] == "failed"
    reported = run["usage"]["total_tokens"]  # the tool step's, as the provider reported it
    assert reported > 0
    tokens, reserved = await settled(app, user)
    assert (tokens, reserved) == (reported + 10, 0)  # 40 characters: 10 tokens
