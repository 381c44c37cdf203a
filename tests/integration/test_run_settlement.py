"""A run cut short is charged its steps' reported usage and, for the text it streamed after its
last counted step only, one token per four characters (the text before a step is in the step's
usage report already). A count the database refuses is logged; the run's end does not depend on
it."""

from __future__ import annotations

import logging

import httpx
import pytest
from fastapi import FastAPI

from agent_service.settings import Settings
from agent_testkit import FakeLLM, parse_sse
from tests.conftest import use_fake_llm
from tests.database import inserts_refused
from tests.factories import TestUser
from tests.integration.test_quota_reservations import counted, settled
from tests.integration.test_runs_faults_outage import logged

TEN_WORDS = 11  # chunks: the opening one, then ten words of four characters (40 characters)


@pytest.fixture
def settings(settings: Settings, fake_llm: FakeLLM) -> Settings:
    settings.llm_max_retries = 0
    settings.user_daily_token_quota = 10**6  # a reservation, given back with the count
    return use_fake_llm(settings, fake_llm.base_url)


async def cut_short_turn(client: httpx.AsyncClient, user: TestUser) -> tuple[list[str], str, dict]:
    """A streamed turn the provider cuts off; (event names, text streamed, the run)."""
    r = await client.post("/api/agent/chat/stream", json={"message": "go"}, headers=user.headers)
    events = parse_sse(r.text)
    names = [e.event for e in events]
    assert names[-1] == "error", names
    start = names.index("tool.result") if "tool.result" in names else 0
    after = "".join(e.json()["delta"] for e in events[start:] if e.event == "message.delta")
    run = (await client.get(f"/api/runs/{r.headers['x-run-id']}", headers=user.headers)).json()
    assert run["status"] == "failed"
    return names, after, run


async def test_only_the_text_after_the_last_counted_step_is_estimated(
    app: FastAPI, client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM
) -> None:
    fake_llm.script(
        fake_llm.tool_calls([("list_tasks", {})], content="Looking at your tasks first. "),
        fake_llm.cut_stream(after=TEN_WORDS, item=fake_llm.reply("abc " * 30)),
    )

    _names, after, run = await cut_short_turn(client, user)

    assert after == "abc " * 10
    reported = run["usage"]["total_tokens"]  # the tool step's, as the provider reported it
    assert reported > 0
    assert await settled(app, user) == (reported + 10, 0)  # 40 characters: 10 tokens


async def test_a_turn_cut_short_before_any_step_is_charged_its_text(
    app: FastAPI, client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM
) -> None:
    fake_llm.script(fake_llm.cut_stream(after=TEN_WORDS, item=fake_llm.reply("abc " * 30)))

    names, after, run = await cut_short_turn(client, user)

    assert "tool.result" not in names and after == "abc " * 10
    assert run["usage"]["total_tokens"] == 0  # no usage report ever came
    assert await settled(app, user) == (10, 0)


async def test_a_turn_cut_short_after_one_word_is_charged_its_one_token(
    app: FastAPI, client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM
) -> None:
    """The smallest count there is: four characters, one token (not rounded away)."""
    fake_llm.script(fake_llm.cut_stream(after=2, item=fake_llm.reply("abc " * 30)))

    _names, after, _run = await cut_short_turn(client, user)

    assert after == "abc "
    assert await settled(app, user) == (1, 0)


async def test_a_count_the_database_refuses_is_logged_and_the_run_still_ends(
    app: FastAPI,
    settings: Settings,
    client: httpx.AsyncClient,
    user: TestUser,
    fake_llm: FakeLLM,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="agent_service.runs")
    settings.user_daily_token_quota = None  # no reservation: the count inserts the day's row
    fake_llm.script(fake_llm.cut_stream(after=TEN_WORDS, item=fake_llm.reply("abc " * 30)))

    async with inserts_refused(app.state.engine, "token_usage"):
        _names, after, _run = await cut_short_turn(client, user)

    assert after == "abc " * 10
    await logged(caplog, "could not settle the tokens")  # after the run's end
    [warning] = [
        r for r in caplog.records if r.getMessage().startswith("could not settle the tokens")
    ]
    assert warning.exc_info and warning.exc_info[0] is not None  # with the database's error
    assert await counted(app, user) == (0, 0)
