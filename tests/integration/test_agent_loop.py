"""The agent loop on its own (no HTTP): a real LLM client against the fake, a real database."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from agent_service.agents.loop import FinalAnswer, ToolCallStarted, ToolStep, run_agent
from agent_service.agents.registry import AgentType
from agent_service.agents.tool import JSONObject, Tool, Toolbox, ToolContext
from agent_service.agents.tools import create_task
from agent_service.llm.client import LLMClient
from agent_service.llm.messages import ChatMessage, ToolCallRequest
from agent_service.settings import Settings
from agent_service.tasks import service as tasks
from agent_testkit import FakeLLM
from tests.conftest import use_fake_llm
from tests.factories import TestUser


class NoArgs(BaseModel):
    pass


async def half_then_raise(context: ToolContext, args: NoArgs) -> JSONObject:
    """Writes, then fails: the write must not survive."""
    await tasks.create_task(context.session, context.user_id, title="half-done")
    raise RuntimeError("boom: INSERT INTO secret_table")


EXPLODE = Tool("explode", "Always fails half-way.", NoArgs, half_then_raise)
TESTER = AgentType("tester", "For tests.", "You are under test.", (EXPLODE, create_task.TOOL))


@pytest.fixture
async def session(app: FastAPI) -> AsyncIterator[AsyncSession]:
    async with app.state.sessionmaker() as session:
        yield session


@pytest.fixture
async def llm(settings: Settings, fake_llm: FakeLLM) -> AsyncIterator[LLMClient]:
    async with httpx.AsyncClient() as http:
        yield LLMClient(use_fake_llm(settings, fake_llm.base_url), http)


async def titles(session: AsyncSession, user: TestUser) -> list[str]:
    items, _ = await tasks.list_tasks(session, user.id, limit=10, offset=0)
    return [t.title for t in items]


async def test_a_raising_tool_is_an_error_result_and_leaves_nothing(
    session: AsyncSession, user: TestUser, caplog: pytest.LogCaptureFixture
) -> None:
    box = Toolbox(TESTER.tools, ToolContext(session, user.id))
    bad = await box.call(ToolCallRequest("c1", "explode", ""))
    good = await box.call(ToolCallRequest("c2", "create_task", '{"title": "kept"}'))
    await session.commit()

    assert bad.is_error and not good.is_error
    assert json.loads(bad.content)["error"] == "tool_failed"
    assert "secret_table" not in bad.content  # the model (and so the user) never sees internals
    assert "tool explode failed" in caplog.text
    assert await titles(session, user) == ["kept"]


async def test_a_tools_effect_commits_only_with_its_step(
    session: AsyncSession, user: TestUser
) -> None:
    """A tool runs in a savepoint; releasing it must not commit (on SQLite it would, if the
    savepoint were what opened the transaction)."""
    box = Toolbox(TESTER.tools, ToolContext(session, user.id))
    outcome = await box.call(ToolCallRequest("c1", "create_task", '{"title": "not yet"}'))
    assert not outcome.is_error
    await session.rollback()  # the step failed before it committed
    assert await titles(session, user) == []


async def test_loop_sends_the_error_result_back_and_finishes(
    session: AsyncSession, user: TestUser, llm: LLMClient, fake_llm: FakeLLM
) -> None:
    fake_llm.script(
        fake_llm.tool_calls([("explode", {}), ("create_task", {"title": "ok"})]),
        fake_llm.reply("One of two worked."),
    )
    box = Toolbox(TESTER.tools, ToolContext(session, user.id))
    history = [ChatMessage("user", "go")]
    events = [e async for e in run_agent(llm, TESTER, history, box, max_steps=3)]

    kinds = [type(e).__name__ for e in events]
    assert kinds == ["ToolCallStarted", "ToolCallStarted", "ToolStep", "FinalAnswer"]
    step = events[2]
    assert isinstance(step, ToolStep)
    assert [o.is_error for o in step.outcomes] == [True, False]
    assert [o.call.id for o in step.outcomes] == [
        e.call.id for e in events[:2] if isinstance(e, ToolCallStarted)
    ]
    final = events[-1]
    assert isinstance(final, FinalAnswer) and final.message.content == "One of two worked."
    assert json.loads(fake_llm.calls[1].tool_result("explode"))["error"] == "tool_failed"
    assert fake_llm.calls[0].system_prompt == "You are under test."
    assert fake_llm.calls[0].tool_names == ["explode", "create_task"]


async def test_streaming_loop_yields_deltas_then_the_answer(
    session: AsyncSession, user: TestUser, llm: LLMClient, fake_llm: FakeLLM
) -> None:
    fake_llm.script(fake_llm.reply("Streamed words arrive one by one."))
    box = Toolbox((), ToolContext(session, user.id))
    events = [
        e
        async for e in run_agent(
            llm, TESTER, [ChatMessage("user", "hi")], box, max_steps=1, stream=True
        )
    ]
    *deltas, final = events
    assert isinstance(final, FinalAnswer)
    assert "".join(d.text for d in deltas) == final.message.content  # type: ignore[union-attr]
    assert len(deltas) > 3 and fake_llm.calls[0].stream
    assert final.usage.total_tokens > 0
