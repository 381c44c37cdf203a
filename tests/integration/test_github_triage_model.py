"""The triage job when the model fails or the job runs again: an outage is retried, a refusal or a
missing LLM fails the delivery at once (nothing is posted), a delivery already done is left alone,
and the final failure of a delivery that is gone is nothing."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import httpx
import pytest
import respx
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import select

from agent_service.integrations.github.jobs import KIND, record_triage_failure
from agent_service.integrations.github.models import GitHubDelivery
from agent_service.jobs import service as jobs
from agent_service.jobs.registry import JobContext
from agent_service.llm.errors import LLMNotConfigured
from agent_service.settings import Settings
from agent_testkit import FakeLLM
from agent_testkit.fake_llm.script import ServerError, server_error
from tests.conftest import use_fake_llm, use_fast_jobs
from tests.factories import TestUser
from tests.integration.test_github_triage import (
    GITHUB,
    SECRET,
    TRIAGE,
    comment_route,
    deliver_opened,
    labels_route,
    wait_for_delivery,
)
from tests.integration.test_jobs import wait_for_job


@pytest.fixture
def settings(settings: Settings, fake_llm: FakeLLM) -> Settings:
    use_fast_jobs(use_fake_llm(settings, fake_llm.base_url))
    settings.llm_max_retries = 0  # one model failure is one failed attempt of the job
    settings.github_webhook_secret = SecretStr(SECRET)
    settings.github_token = SecretStr("ghs_installation_token")
    settings.github_api_url = GITHUB
    return settings


@pytest.fixture
def github() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=GITHUB, assert_all_called=False) as router:
        yield router


async def test_a_model_outage_is_retried_and_the_triage_posted_once(
    client: httpx.AsyncClient, admin: TestUser, fake_llm: FakeLLM, github: respx.MockRouter
) -> None:
    fake_llm.script(server_error(503), fake_llm.reply(json.dumps(TRIAGE)))
    labels, comment = labels_route(github), comment_route(github)

    await deliver_opened(client)
    delivery = await wait_for_delivery(client, admin, until={"done", "failed"})

    assert delivery["status"] == "done", delivery
    assert delivery["attempts"] == 2
    assert delivery["triage"] == {**TRIAGE, "comment_url": "https://github.test/c/1"}
    assert len(fake_llm.calls) == 2
    assert labels.call_count == 1 and comment.call_count == 1


@pytest.mark.parametrize("status", [400, 422])
async def test_a_model_refusal_fails_the_delivery_at_once(
    client: httpx.AsyncClient,
    admin: TestUser,
    fake_llm: FakeLLM,
    github: respx.MockRouter,
    status: int,
) -> None:
    fake_llm.script(ServerError(status, "Invalid schema for response_format"))
    labels = labels_route(github)

    await deliver_opened(client)
    delivery = await wait_for_delivery(client, admin, until={"done", "failed"})

    assert delivery["status"] == "failed", delivery
    assert delivery["attempts"] == 1
    assert "Invalid schema for response_format" in delivery["error"]
    assert delivery["triage"] is None
    assert len(fake_llm.calls) == 1 and not labels.called


class TestWithoutAModel:
    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        settings.llm_api_key = None
        return settings

    async def test_the_delivery_fails_at_once_and_says_why(
        self,
        client: httpx.AsyncClient,
        admin: TestUser,
        fake_llm: FakeLLM,
        github: respx.MockRouter,
    ) -> None:
        labels = labels_route(github)

        await deliver_opened(client)
        delivery = await wait_for_delivery(client, admin, until={"done", "failed"})

        assert delivery["status"] == "failed", delivery
        assert delivery["attempts"] == 1
        assert delivery["error"] == LLMNotConfigured().detail
        assert fake_llm.calls == [] and not labels.called


async def test_a_job_run_again_for_a_done_delivery_leaves_it_alone(
    app: FastAPI,
    client: httpx.AsyncClient,
    admin: TestUser,
    fake_llm: FakeLLM,
    github: respx.MockRouter,
) -> None:
    fake_llm.script(fake_llm.reply(json.dumps(TRIAGE)))
    labels, comment = labels_route(github), comment_route(github)
    await deliver_opened(client)
    done = await wait_for_delivery(client, admin, until={"done", "failed"})
    assert done["status"] == "done"

    async with app.state.sessionmaker() as session:
        delivery_id = (await session.scalars(select(GitHubDelivery.id))).one()
        job = await jobs.enqueue_job(
            session, KIND, {"delivery_id": str(delivery_id)}, max_attempts=3
        )
        await session.commit()
    await app.state.job_queue.submit(job.id)
    assert (await wait_for_job(app.state.sessionmaker, job.id)).status == "succeeded"

    again = await wait_for_delivery(client, admin, until={"done"})
    assert again == done  # attempts not counted again, nothing asked or posted
    assert len(fake_llm.calls) == 1
    assert labels.call_count == 1 and comment.call_count == 1


async def test_a_job_for_a_delivery_that_is_gone_does_nothing(
    app: FastAPI, fake_llm: FakeLLM
) -> None:
    async with app.state.sessionmaker() as session:
        job = await jobs.enqueue_job(
            session, KIND, {"delivery_id": str(uuid.uuid4())}, max_attempts=3
        )
        await session.commit()
    await app.state.job_queue.submit(job.id)

    finished = await wait_for_job(app.state.sessionmaker, job.id)
    assert (finished.status, finished.attempts) == ("succeeded", 1)
    assert fake_llm.calls == []


async def test_the_final_failure_of_a_delivery_that_is_gone_is_nothing(app: FastAPI) -> None:
    context = JobContext(app.state.settings, app.state.sessionmaker, app.state.llm)
    await record_triage_failure(context, {"delivery_id": str(uuid.uuid4())}, "gave up")
    async with app.state.sessionmaker() as session:
        assert (await session.scalars(select(GitHubDelivery))).all() == []


async def test_a_model_down_on_every_attempt_fails_the_delivery_saying_so(
    client: httpx.AsyncClient, admin: TestUser, fake_llm: FakeLLM, github: respx.MockRouter
) -> None:
    fake_llm.script(*[server_error(503)] * 3)
    labels = labels_route(github)

    await deliver_opened(client)
    delivery = await wait_for_delivery(client, admin, until={"done", "failed"})

    assert delivery["status"] == "failed", delivery
    assert delivery["attempts"] == 3
    assert delivery["error"].startswith("Gave up after 3 attempts: The LLM provider is unavailable")
    assert delivery["triage"] is None and not labels.called


async def test_github_unreachable_on_every_attempt_fails_the_delivery_saying_so(
    client: httpx.AsyncClient, admin: TestUser, fake_llm: FakeLLM, github: respx.MockRouter
) -> None:
    fake_llm.script(fake_llm.reply(json.dumps(TRIAGE)))  # asked once: the result is kept
    labels = labels_route(github).mock(side_effect=httpx.ConnectError("GitHub is down"))

    await deliver_opened(client)
    delivery = await wait_for_delivery(client, admin, until={"done", "failed"})

    assert delivery["status"] == "failed", delivery
    assert delivery["attempts"] == 3
    assert delivery["error"] == (
        "Gave up after 3 attempts: GitHub could not be reached (ConnectError)."
    )
    assert delivery["triage"] == TRIAGE
    assert labels.call_count == 3 and len(fake_llm.calls) == 1


async def test_a_failed_delivery_run_again_once_fixed_is_posted_without_asking_again(
    app: FastAPI,
    client: httpx.AsyncClient,
    admin: TestUser,
    fake_llm: FakeLLM,
    github: respx.MockRouter,
    settings: Settings,
) -> None:
    """No GITHUB_TOKEN: failed with the triage kept; the token set and the job run again (as an
    operator would), the kept triage is posted and the delivery's error goes."""
    settings.github_token = None
    fake_llm.script(fake_llm.reply(json.dumps(TRIAGE)))
    labels, comment = labels_route(github), comment_route(github)
    await deliver_opened(client)
    failed = await wait_for_delivery(client, admin, until={"done", "failed"})
    assert failed["status"] == "failed" and "GITHUB_TOKEN" in failed["error"]

    settings.github_token = SecretStr("ghs_installation_token")
    async with app.state.sessionmaker() as session:
        delivery_id = (await session.scalars(select(GitHubDelivery.id))).one()
        job = await jobs.enqueue_job(
            session, KIND, {"delivery_id": str(delivery_id)}, max_attempts=3
        )
        await session.commit()
    await app.state.job_queue.submit(job.id)
    done = await wait_for_delivery(client, admin, until={"done"})

    assert done["error"] is None
    assert done["attempts"] == 2
    assert done["triage"] == {**TRIAGE, "comment_url": "https://github.test/c/1"}
    assert len(fake_llm.calls) == 1
    assert labels.call_count == 1 and comment.call_count == 1
