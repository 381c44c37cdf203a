"""A tool whose write finds embedded SQLite locked by another process fails its turn with 503
`database_busy` (a client retries), instead of telling the model "nothing was changed" and
reporting the turn done without its effect; the retry makes the effect once."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import httpx
import pytest

from agent_service.settings import Settings
from agent_testkit import FakeLLM, RecordedCall, parse_sse
from agent_testkit.fake_llm.script import ScriptItem
from tests.conftest import use_fake_llm
from tests.factories import TestUser
from tests.faults import SqliteLockHolder, sqlite_path


@pytest.fixture
def settings(settings: Settings, fake_llm: FakeLLM) -> Settings:
    if not settings.resolved_database_url.startswith("sqlite"):
        pytest.skip("SQLite's write lock only")
    settings.sqlite_busy_timeout_ms = 100
    return use_fake_llm(settings, fake_llm.base_url)


class ReleaseWhenLogged(logging.Handler):
    """Lets the lock go as soon as the service logs that it gave up on it (before the run's end is
    written, which needs the lock too)."""

    def __init__(self, holder: SqliteLockHolder, text: str) -> None:
        super().__init__()
        self.holder = holder
        self.text = text
        self.seen = 0

    def emit(self, record: logging.LogRecord) -> None:
        if self.text in record.getMessage():
            self.seen += 1
            self.holder.release()


@pytest.fixture
def lock_holder(settings: Settings) -> Iterator[SqliteLockHolder]:
    holder = SqliteLockHolder(sqlite_path(settings.resolved_database_url))
    released = ReleaseWhenLogged(holder, "tool create_task stopped its turn")
    logging.getLogger("agent_service").addHandler(released)
    try:
        yield holder
    finally:
        logging.getLogger("agent_service").removeHandler(released)
        holder.release()
    assert released.seen == 1


@pytest.mark.parametrize("route", ["/api/agent/chat", "/api/agent/chat/stream"])
async def test_a_tool_write_locked_by_another_process_fails_the_turn_with_503(
    client: httpx.AsyncClient,
    user: TestUser,
    fake_llm: FakeLLM,
    lock_holder: SqliteLockHolder,
    route: str,
) -> None:
    def lock_then_call_tool(call: RecordedCall) -> ScriptItem:
        """The model asks for the tool; the file's write lock is taken before the tool runs."""
        lock_holder.take()
        return FakeLLM.tool_call("create_task", title="Pay the rent")

    fake_llm.script(fake_llm.respond(lock_then_call_tool))
    r = await client.post(route, json={"message": "rent"}, headers=user.headers)

    assert not lock_holder.held
    if route.endswith("stream"):
        assert r.status_code == 200, r.text
        [error] = [event for event in parse_sse(r.text) if event.event == "error"]
        assert error.json()["error"] == "database_busy", r.text
    else:
        assert r.status_code == 503, r.text
        assert r.json()["error"] == "database_busy"
        assert int(r.headers["retry-after"]) >= 1
    assert len(fake_llm.calls) == 1  # the model was not told the tool failed: the turn stopped
    assert (await client.get("/api/tasks", headers=user.headers)).json() == []

    fake_llm.script(fake_llm.tool_call("create_task", title="Pay the rent"), fake_llm.reply("Ok"))
    r = await client.post("/api/agent/chat", json={"message": "rent"}, headers=user.headers)
    assert r.status_code == 200, r.text
    tasks = (await client.get("/api/tasks", headers=user.headers)).json()
    assert [t["title"] for t in tasks] == ["Pay the rent"]
