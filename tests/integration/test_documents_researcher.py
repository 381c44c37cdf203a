"""The researcher's document tools, through the agent chat: search, read, and only your own."""

from __future__ import annotations

import json

import httpx
import pytest
from fastapi import FastAPI

from agent_service.documents import service as documents
from agent_service.settings import Settings
from agent_testkit import FakeLLM, RecordedCall
from tests.conftest import UploadFile, WaitProcessed, make_text_pdf, use_fake_llm, use_fast_jobs
from tests.factories import TestUser

pytestmark = pytest.mark.usefixtures("llm_waits")

FILLER = "Nothing to see on this page but filler about the weather. " * 5
PAGES = [
    "Project Nightingale annual report. " + FILLER,
    "The launch code of project Nightingale is PINEAPPLE-42. " + FILLER,
]


@pytest.fixture
def settings(settings: Settings, fake_llm: FakeLLM) -> Settings:
    return use_fast_jobs(use_fake_llm(settings, fake_llm.base_url))


async def uploaded(
    upload_file: UploadFile, wait_processed: WaitProcessed, user: TestUser, pages: list[str]
) -> dict:
    r = await upload_file(user, make_text_pdf(pages), filename="report.pdf")
    document = await wait_processed(user, r.json()["id"])
    assert document["status"] == "ready"
    return document


async def research(client: httpx.AsyncClient, user: TestUser, question: str) -> dict:
    r = await client.post(
        "/api/agents/researcher/chat",
        json={"messages": [{"role": "user", "content": question}]},
        headers=user.headers,
    )
    assert r.status_code == 200, r.text
    return dict(r.json())


def first_hit(call: RecordedCall) -> str:
    return str(json.loads(call.tool_result("search_documents"))["results"][0]["chunk_id"])


async def test_the_researcher_searches_then_reads_a_passage(
    client: httpx.AsyncClient,
    upload_file: UploadFile,
    wait_processed: WaitProcessed,
    user: TestUser,
    fake_llm: FakeLLM,
) -> None:
    document = await uploaded(upload_file, wait_processed, user, PAGES)
    fake_llm.script(
        fake_llm.tool_call("search_documents", query="Nightingale launch code"),
        fake_llm.respond(
            lambda call: fake_llm.tool_call("read_document_chunk", chunk_id=first_hit(call))
        ),
        fake_llm.reply("The code is PINEAPPLE-42 (report.pdf, page 2)."),
    )

    reply = await research(client, user, "What is Nightingale's launch code?")

    assert reply["response"] == "The code is PINEAPPLE-42 (report.pdf, page 2)."
    search, read = reply["tool_calls"]
    assert not search["is_error"] and not read["is_error"]
    best = search["result"]["results"][0]
    assert (best["document_id"], best["filename"], best["page"]) == (
        document["id"],
        "report.pdf",
        2,
    )
    assert "PINEAPPLE-42" in best["excerpt"]
    chunk = read["result"]["chunk"]
    assert chunk["chunk_id"] == best["chunk_id"] and chunk["page"] == 2
    assert chunk["text"].startswith("The launch code of project Nightingale is PINEAPPLE-42.")
    assert "read_document_chunk" in fake_llm.calls[0].tool_names
    assert json.loads(fake_llm.calls[2].tool_result("read_document_chunk"))["chunk"]["page"] == 2


async def test_the_tools_reach_only_the_users_own_documents(
    app: FastAPI,
    client: httpx.AsyncClient,
    upload_file: UploadFile,
    wait_processed: WaitProcessed,
    user: TestUser,
    other_user: TestUser,
    fake_llm: FakeLLM,
) -> None:
    theirs = await uploaded(upload_file, wait_processed, other_user, PAGES)
    async with app.state.sessionmaker() as session:  # what its owner finds
        [their_best, *_] = await documents.search_documents(session, other_user.id, "launch code")
    fake_llm.script(
        fake_llm.tool_call("search_documents", query="Nightingale launch code"),
        fake_llm.tool_call("search_documents", query="launch code", document_id=theirs["id"]),
        fake_llm.tool_call("read_document_chunk", chunk_id=str(their_best.chunk_id)),
        fake_llm.tool_call("read_document_chunk", chunk_id="not-an-id"),
        fake_llm.reply("I found nothing."),
    )

    reply = await research(client, user, "What is Nightingale's launch code?")

    own_search, scoped_search, read, malformed = reply["tool_calls"]
    assert own_search["result"] == {"results": [], "count": 0}
    assert scoped_search["is_error"] and scoped_search["result"]["error"] == "document_not_found"
    assert read["is_error"] and read["result"]["error"] == "chunk_not_found"
    assert malformed["is_error"] and malformed["result"]["error"] == "chunk_not_found"
    assert "PINEAPPLE" not in json.dumps(reply["tool_calls"])
