"""The `--llm demo` model through the HTTP API: each intent makes its real tool call and state change.

The kit's in-process fake answers every call with the demo's rules (`demo_answer`), exactly what
`serve --llm demo` serves over loopback (tests/e2e/test_serve_demo.py runs that process).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from pydantic import SecretStr

from agent_service.demo.server import demo_answer
from agent_service.integrations.github.triage import TriageResult
from agent_service.settings import Settings
from agent_testkit import FakeLLM, github_webhook
from tests.conftest import UploadFile, WaitProcessed, make_text_pdf, use_fake_llm, use_fast_jobs
from tests.factories import TestUser

pytestmark = [
    pytest.mark.fake_llm(strict=False, default=FakeLLM.respond(demo_answer)),
    pytest.mark.usefixtures("llm_waits"),
]

SECRET = "demo-webhook-secret"
GITHUB = "https://github.example.test/api/v3"
PAYLOADS = Path(__file__).parent.parent / "fixtures" / "github-webhooks"


@pytest.fixture
def settings(settings: Settings, fake_llm: FakeLLM) -> Settings:
    use_fast_jobs(use_fake_llm(settings, fake_llm.base_url))
    settings.github_webhook_secret = SecretStr(SECRET)
    settings.github_token = SecretStr("ghs_demo")
    settings.github_api_url = GITHUB
    return settings


async def chat(
    client: httpx.AsyncClient, user: TestUser, message: str, agent: str = "assistant"
) -> dict[str, Any]:
    r = await client.post(
        f"/api/agents/{agent}/chat",
        json={"messages": [{"role": "user", "content": message}]},
        headers=user.headers,
    )
    assert r.status_code == 200, r.text
    return dict(r.json())


def called(reply: dict[str, Any]) -> list[str]:
    return [call["name"] for call in reply["tool_calls"]]


async def tasks_of(client: httpx.AsyncClient, user: TestUser) -> list[dict[str, Any]]:
    r = await client.get("/api/tasks", headers=user.headers)
    assert r.status_code == 200
    return list(r.json())


async def test_add_a_task(client: httpx.AsyncClient, user: TestUser) -> None:
    reply = await chat(client, user, "Add a high-priority task to write the quarterly report")
    assert called(reply) == ["create_task"]
    [task] = await tasks_of(client, user)
    assert (task["title"], task["priority"]) == ("Write the quarterly report", "high")
    assert "Write the quarterly report" in reply["response"]


async def test_add_several_tasks_at_once(client: httpx.AsyncClient, user: TestUser) -> None:
    reply = await chat(client, user, "add tasks: buy milk, call Bob and book the train")
    assert called(reply) == ["create_task"] * 3
    titles = {t["title"] for t in await tasks_of(client, user)}
    assert titles == {"Buy milk", "Call Bob", "Book the train"}


async def test_list_tasks(client: httpx.AsyncClient, user: TestUser) -> None:
    await chat(client, user, "add a task called 'Water the plants'")
    reply = await chat(client, user, "list my tasks")
    assert called(reply) == ["list_tasks"]
    assert "Water the plants" in reply["response"] and "1 task" in reply["response"]


async def test_complete_a_task(client: httpx.AsyncClient, user: TestUser) -> None:
    await chat(client, user, "add a task to renew the passport")
    await chat(client, user, "add a task to plan the offsite")
    reply = await chat(client, user, "mark renew the passport as done")
    assert called(reply) == ["list_tasks", "update_task"]
    status = {t["title"]: t["status"] for t in await tasks_of(client, user)}
    assert status == {"Renew the passport": "done", "Plan the offsite": "pending"}
    assert "Renew the passport" in reply["response"]


async def test_completing_an_unknown_task_says_so(
    client: httpx.AsyncClient, user: TestUser
) -> None:
    await chat(client, user, "add a task to renew the passport")
    reply = await chat(client, user, "mark the kayak trip as done")
    assert called(reply) == ["list_tasks"]
    assert "no task matching" in reply["response"] and "Renew the passport" in reply["response"]
    assert [t["status"] for t in await tasks_of(client, user)] == ["pending"]


async def test_make_a_project_with_tasks(client: httpx.AsyncClient, user: TestUser) -> None:
    reply = await chat(client, user, "create a project Launch with tasks design, build and ship")
    assert called(reply) == ["create_project"]
    [project] = (await client.get("/api/projects", headers=user.headers)).json()
    assert project["name"] == "Launch"
    r = await client.get(f"/api/projects/{project['id']}", headers=user.headers)
    assert sorted(t["title"] for t in r.json()["tasks"]) == ["Build", "Design", "Ship"]


async def wait_for_run(client: httpx.AsyncClient, user: TestUser, run_id: str) -> dict[str, Any]:
    async with asyncio.timeout(10):
        while True:
            run = (await client.get(f"/api/runs/{run_id}", headers=user.headers)).json()
            if run["status"] in ("completed", "failed", "cancelled", "interrupted"):
                return dict(run)
            await asyncio.sleep(0.05)


@pytest.mark.parametrize(("approve", "left"), [(True, []), (False, ["Renew the passport"])])
async def test_delete_a_task_waits_for_approval(
    client: httpx.AsyncClient, user: TestUser, approve: bool, left: list[str]
) -> None:
    await chat(client, user, "add a task to renew the passport")
    reply = await chat(client, user, "delete the task renew the passport")
    assert reply["status"] == "requires_action"
    [pending] = reply["pending_tool_calls"]
    assert pending["name"] == "delete_task"
    assert pending["description"] == "Delete task *Renew the passport*?"
    assert [t["title"] for t in await tasks_of(client, user)] == ["Renew the passport"]
    r = await client.get("/api/runs", params={"status": "requires_action"}, headers=user.headers)
    assert r.headers["x-total-count"] == "1" and r.json()[0]["id"] == reply["run_id"]
    assert r.json()[0]["pending_tool_calls"][0]["description"] == pending["description"]

    r = await client.post(
        f"/api/runs/{reply['run_id']}/resume",
        json={"decisions": [{"tool_call_id": pending["id"], "approve": approve}]},
        headers=user.headers,
    )
    assert r.status_code == 202, r.text
    assert (await wait_for_run(client, user, reply["run_id"]))["status"] == "completed"
    assert [t["title"] for t in await tasks_of(client, user)] == left
    r = await client.get("/api/runs", params={"status": "requires_action"}, headers=user.headers)
    assert r.json() == [] and r.headers["x-total-count"] == "0"


async def test_words_it_cannot_read_get_what_it_understood_and_can_do(
    client: httpx.AsyncClient, user: TestUser
) -> None:
    reply = await chat(client, user, "sing me a song about the sea")
    assert reply["tool_calls"] == []
    assert "I understood: “sing me a song about the sea”" in reply["response"]
    for example in ("add a task", "list my tasks", "as done", "create a project"):
        assert example in reply["response"]
    assert await tasks_of(client, user) == []


async def test_the_stream_shows_the_tool_call(client: httpx.AsyncClient, user: TestUser) -> None:
    from agent_testkit import aiter_sse

    async with client.stream(
        "POST",
        "/api/agent/chat/stream",
        json={"message": "add a task to feed the cat"},
        headers=user.headers,
    ) as r:
        events = [event async for event in aiter_sse(r)]
    names = [event.event for event in events]
    assert "tool.call" in names and names[-1] == "message.completed"
    [task] = await tasks_of(client, user)
    assert task["title"] == "Feed the cat"


async def test_researcher_answers_from_an_uploaded_document_citing_it(
    client: httpx.AsyncClient,
    upload_file: UploadFile,
    wait_processed: WaitProcessed,
    user: TestUser,
) -> None:
    pages = [
        "Harbour rules. Boats must be moored on the east pier. " * 3,
        "Opening hours. The harbour office opens at seven in the morning on weekdays. " * 2,
    ]
    r = await upload_file(user, make_text_pdf(pages), filename="harbour.pdf")
    assert (await wait_processed(user, r.json()["id"]))["status"] == "ready"

    reply = await chat(client, user, "When does the harbour office open?", agent="researcher")
    assert called(reply) == ["search_documents", "read_document_chunk"]
    assert "harbour.pdf, page 2" in reply["response"]
    assert "opens at seven in the morning" in reply["response"]


async def test_researcher_without_documents_says_how_to_add_one(
    client: httpx.AsyncClient, user: TestUser
) -> None:
    reply = await chat(client, user, "What does the contract say about refunds?", "researcher")
    assert called(reply) == ["search_documents"]
    assert "found nothing" in reply["response"] and "Upload a document" in reply["response"]


async def test_asking_a_document_cites_the_passage(
    client: httpx.AsyncClient,
    upload_file: UploadFile,
    wait_processed: WaitProcessed,
    user: TestUser,
) -> None:
    pages = ["Cats sleep a lot. " * 5, "The library closes at nine in the evening. " * 3]
    r = await upload_file(user, make_text_pdf(pages), filename="notes.pdf")
    document_id = r.json()["id"]
    assert (await wait_processed(user, document_id))["status"] == "ready"
    r = await client.post(
        f"/api/documents/{document_id}/ask",
        json={"question": "When does the library close?", "stream": False},
        headers=user.headers,
    )
    assert r.status_code == 200, r.text
    answer = r.json()
    assert "closes at nine" in answer["response"]
    assert answer["citations"] and answer["citations"][0]["page"] == 2


@pytest.fixture
def github() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=GITHUB, assert_all_called=False) as router:
        yield router


async def test_triage_gives_valid_structured_output(
    client: httpx.AsyncClient, admin: TestUser, github: respx.MockRouter, fake_llm: FakeLLM
) -> None:
    issue_path = "/repos/Codertocat/Hello-World/issues/1"
    labels = github.post(f"{issue_path}/labels").respond(200, json=[])
    comment = github.post(f"{issue_path}/comments").respond(201, json={"id": 1})
    payload = (PAYLOADS / "issues.opened.payload.json").read_bytes()
    body, headers = github_webhook(SECRET, payload, event="issues", delivery_id="demo-1")
    assert (await client.post("/webhooks/github", content=body, headers=headers)).status_code == 200

    async with asyncio.timeout(10):
        while True:
            r = await client.get("/api/integrations/github/deliveries", headers=admin.headers)
            if r.json()[0]["status"] in ("done", "failed"):
                break
            await asyncio.sleep(0.05)
    assert r.json()[0]["status"] == "done", r.json()
    [call] = fake_llm.calls
    assert call.request["response_format"]["type"] == "json_schema"
    answer = json.loads(call.item.text)  # type: ignore[union-attr]
    assert TriageResult.model_validate(answer)  # the service's own schema accepts it
    assert set(answer) >= {"labels", "priority"}
    assert json.loads(labels.calls.last.request.content)["labels"] == answer["labels"]
    assert json.loads(comment.calls.last.request.content)["body"].startswith("AI Triage:")


async def test_edit_a_task_by_rename_priority_and_project(
    client: httpx.AsyncClient, user: TestUser
) -> None:
    await chat(client, user, "create a project Launch with tasks design")
    await chat(client, user, "ad a taks to by milk")  # typos of the words it reads
    reply = await chat(client, user, "renmae design to design mockups")
    assert called(reply) == ["list_tasks", "update_task"]
    reply = await chat(client, user, "set design mockups to hihg priority")
    assert "'Design mockups' is now high priority." in reply["response"]
    reply = await chat(client, user, "move by milk to the launch project")
    assert called(reply) == ["list_tasks", "list_projects", "update_task"]
    [project] = (await client.get("/api/projects", headers=user.headers)).json()
    tasks = {t["title"]: t for t in await tasks_of(client, user)}
    assert set(tasks) == {"Design mockups", "By milk"}
    assert tasks["Design mockups"]["priority"] == "high"
    assert tasks["By milk"]["project_id"] == project["id"]
