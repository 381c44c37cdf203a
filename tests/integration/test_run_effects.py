"""A run's tool effects (what a rollback undoes) are recorded once each, step after step."""

from __future__ import annotations

import uuid

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from agent_service.runs.models import Run
from agent_service.settings import Settings
from agent_testkit import FakeLLM
from tests.conftest import use_fake_llm
from tests.factories import TestUser

pytestmark = pytest.mark.usefixtures("llm_waits")


@pytest.fixture
def settings(settings: Settings, fake_llm: FakeLLM) -> Settings:
    return use_fake_llm(settings, fake_llm.base_url)


async def test_each_tool_effect_is_recorded_once_whatever_the_steps(
    app: FastAPI, client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM
) -> None:
    """A rollback undoes what the run's `effects` list: a step's effects are stored with that step
    and forgotten by the next, so two steps record two effects, not three."""
    fake_llm.script(
        fake_llm.tool_call("create_task", title="A"),
        fake_llm.tool_call("create_task", title="B"),
        fake_llm.reply("Both made."),
    )

    r = await client.post("/api/agent/chat", json={"message": "A then B"}, headers=user.headers)

    assert r.status_code == 200, r.text
    async with app.state.sessionmaker() as session:
        effects = await session.scalar(
            select(Run.effects).where(Run.id == uuid.UUID(r.json()["run_id"]))
        )
    tasks = {
        t["title"]: t["id"] for t in (await client.get("/api/tasks", headers=user.headers)).json()
    }
    assert effects == [
        {"undo": "delete_task", "task_id": tasks["A"]},
        {"undo": "delete_task", "task_id": tasks["B"]},
    ]
