"""Asking a document: retrieval into the prompt, streamed and JSON answers, citations with pages.

The LLM is the kit's fake, at the HTTP boundary; retrieval and the database are real.
"""

from __future__ import annotations

import uuid

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from agent_service.documents.models import Document, DocumentChunk
from agent_service.settings import Settings
from agent_testkit import FakeLLM, aiter_sse
from tests.conftest import UploadFile, WaitProcessed, make_text_pdf, use_fake_llm, use_fast_jobs
from tests.factories import TestUser

pytestmark = pytest.mark.usefixtures("llm_waits")

FILLER = "This page is about something else entirely, like the weather and the tides. " * 6
PAGES = [
    "Project Nightingale: annual report. " + FILLER,
    "Apples and orchards of the northern valley. " + FILLER,
    "The launch code of project Nightingale is PINEAPPLE-42, kept in the vault. " + FILLER,
    "Closing remarks and thanks to the team. " + FILLER,
]


@pytest.fixture
def settings(settings: Settings, fake_llm: FakeLLM) -> Settings:
    return use_fast_jobs(use_fake_llm(settings, fake_llm.base_url))


@pytest.fixture
async def report(upload_file: UploadFile, wait_processed: WaitProcessed, user: TestUser) -> dict:
    r = await upload_file(user, make_text_pdf(PAGES), filename="nightingale.pdf")
    document = await wait_processed(user, r.json()["id"])
    assert document["status"] == "ready"
    return document


async def ask(
    client: httpx.AsyncClient, user: TestUser, document_id: str, question: str, **extra: object
) -> httpx.Response:
    return await client.post(
        f"/api/documents/{document_id}/ask",
        json={"question": question, **extra},
        headers=user.headers,
    )


async def test_the_answer_streams_then_completes_with_citations(
    client: httpx.AsyncClient, user: TestUser, report: dict, fake_llm: FakeLLM
) -> None:
    fake_llm.script(fake_llm.reply("The launch code is PINEAPPLE-42 [1]."))

    async with client.stream(
        "POST",
        f"/api/documents/{report['id']}/ask",
        json={"question": "What is the launch code of project Nightingale?"},
        headers=user.headers,
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = [event async for event in aiter_sse(response)]

    names = [e.event for e in events]
    assert names[-1] == "message.completed"
    assert set(names[:-1]) == {"message.delta"} and len(names) > 2
    completed = events[-1].json()
    assert "".join(e.json()["delta"] for e in events[:-1]) == completed["response"]
    assert completed["response"] == "The launch code is PINEAPPLE-42 [1]."
    assert completed["document_id"] == report["id"]
    [citation] = completed["citations"]
    assert citation["page"] == 3
    assert "PINEAPPLE-42" in citation["excerpt"]
    assert uuid.UUID(citation["chunk_id"])
    assert completed["usage"]["total_tokens"] > 0
    assert fake_llm.calls[0].stream is True


async def test_stream_false_answers_json_with_the_same_fields(
    client: httpx.AsyncClient, user: TestUser, report: dict, fake_llm: FakeLLM
) -> None:
    fake_llm.script(fake_llm.reply("Apples grow in the northern valley [2], per the report [1]."))

    r = await ask(client, user, report["id"], "Where do the apples grow?", stream=False)

    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"response", "document_id", "citations", "usage"}
    pages = [c["page"] for c in body["citations"]]
    assert pages[0] == 2  # [2] is cited first
    assert fake_llm.calls[0].stream is False


async def test_retrieval_puts_the_answering_passage_in_the_prompt(
    client: httpx.AsyncClient, user: TestUser, report: dict, fake_llm: FakeLLM
) -> None:
    fake_llm.script(fake_llm.reply("It is PINEAPPLE-42 [1]."))
    await ask(client, user, report["id"], "Which launch code does Nightingale use?", stream=False)

    call = fake_llm.calls[0]
    assert "[1] (page 3)\nThe launch code of project Nightingale is PINEAPPLE-42" in (
        call.last_user_message or ""
    )
    assert (call.last_user_message or "").endswith(
        "Question: Which launch code does Nightingale use?"
    )
    assert "Cite every passage you use" in (call.system_prompt or "")
    assert [m["role"] for m in call.messages] == ["system", "user"]


async def test_a_real_scan_is_asked_and_cited_at_the_right_page(
    client: httpx.AsyncClient,
    user: TestUser,
    upload_file: UploadFile,
    wait_processed: WaitProcessed,
    fake_llm: FakeLLM,
) -> None:
    r = await upload_file(user, "Seige_of_Vicksburg_Sample_OCR.pdf")
    document = await wait_processed(user, r.json()["id"])
    fake_llm.script(fake_llm.reply("Balls packed with saw-dust [1]."))

    r = await ask(client, user, document["id"], "What is cannister shot filled with?", stream=False)

    assert "Cannister shot is a tin cylinder" in (fake_llm.calls[0].last_user_message or "")
    [citation] = r.json()["citations"]
    assert citation["page"] == 3
    assert "saw-dust" in citation["excerpt"]


async def test_an_answer_without_markers_cites_every_passage_given(
    client: httpx.AsyncClient, user: TestUser, report: dict, fake_llm: FakeLLM
) -> None:
    fake_llm.script(fake_llm.reply("I could not tell."))
    r = await ask(client, user, report["id"], "Nightingale tides weather", stream=False, top_k=3)

    assert len(r.json()["citations"]) == 3
    assert (fake_llm.calls[0].last_user_message or "").count("] (page ") == 3


async def test_a_question_matching_nothing_gets_the_opening_passages(
    client: httpx.AsyncClient, user: TestUser, report: dict, fake_llm: FakeLLM
) -> None:
    fake_llm.script(fake_llm.reply("A report about project Nightingale [1]."))
    r = await ask(client, user, report["id"], "Summarise, please!", stream=False)

    assert r.json()["citations"][0]["page"] == 1


async def test_a_document_that_is_not_ready_is_409(
    app: FastAPI,
    client: httpx.AsyncClient,
    user: TestUser,
    upload_file: UploadFile,
    wait_processed: WaitProcessed,
) -> None:
    async with app.state.sessionmaker() as session:  # processing, and no job will change that
        pending = Document(
            user_id=user.id,
            filename="pending.pdf",
            content_type="application/pdf",
            size_bytes=1,
            sha256="0" * 64,
            progress=0.25,
        )
        session.add(pending)
        await session.commit()
    r = await ask(client, user, str(pending.id), "Anything?")
    assert (r.status_code, r.json()["error"]) == (409, "document_not_ready")
    assert "still processing (25% done)" in r.json()["detail"]

    failed = await wait_processed(user, (await upload_file(user, "bug1020226.pdf")).json()["id"])
    r = await ask(client, user, failed["id"], "Anything?", stream=False)
    assert (r.status_code, r.json()["error"]) == (409, "document_not_ready")
    assert "failed processing (The PDF is corrupted" in r.json()["detail"]


async def test_a_failure_after_the_stream_started_is_an_error_event(
    client: httpx.AsyncClient, user: TestUser, report: dict, fake_llm: FakeLLM
) -> None:
    fake_llm.script(fake_llm.cut_stream(after=2))

    async with client.stream(
        "POST",
        f"/api/documents/{report['id']}/ask",
        json={"question": "What is the launch code?"},
        headers=user.headers,
    ) as response:
        assert response.status_code == 200
        events = [event async for event in aiter_sse(response)]

    assert events[-1].event == "error"
    assert events[-1].json()["error"] == "llm_unavailable"
    assert "message.completed" not in [e.event for e in events]


async def test_questions_are_validated(
    client: httpx.AsyncClient, user: TestUser, report: dict
) -> None:
    for body in ({"question": "   "}, {}, {"question": "x", "top_k": 0}):
        r = await client.post(f"/api/documents/{report['id']}/ask", json=body, headers=user.headers)
        assert (r.status_code, r.json()["error"]) == (422, "validation_error")


class TestWithEmbeddings:
    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        settings.embedding_model = "fake-embedding"
        return settings

    async def test_chunks_and_questions_are_embedded_for_hybrid_retrieval(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        user: TestUser,
        report: dict,
        fake_llm: FakeLLM,
    ) -> None:
        async with app.state.sessionmaker() as session:
            embedded = await session.scalar(
                select(func.count())
                .select_from(DocumentChunk)
                .where(DocumentChunk.embedding.is_not(None))
            )
        assert embedded == report["chunk_count"] > 0
        indexed = [call["input"] for call in fake_llm.embedding_calls]
        assert all(call["model"] == "fake-embedding" for call in fake_llm.embedding_calls)

        fake_llm.script(fake_llm.reply("PINEAPPLE-42 [1]."))
        r = await ask(client, user, report["id"], "What is the launch code?", stream=False)

        assert r.status_code == 200, r.text
        assert fake_llm.embedding_calls[-1]["input"] == ["What is the launch code?"]
        assert len(fake_llm.embedding_calls) == len(indexed) + 1
        assert "PINEAPPLE-42" in (fake_llm.calls[0].last_user_message or "")


class TestWithoutAnLLM:
    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        settings.llm_api_key = None
        return settings

    async def test_asking_says_what_to_configure(
        self, client: httpx.AsyncClient, user: TestUser, report: dict
    ) -> None:
        r = await ask(client, user, report["id"], "What is the launch code?")
        assert (r.status_code, r.json()["error"]) == (503, "llm_not_configured")
        assert "LLM_API_KEY" in r.json()["detail"]


async def test_a_cited_page_can_be_read(
    client: httpx.AsyncClient, user: TestUser, other_user: TestUser, report: dict
) -> None:
    url = f"/api/documents/{report['id']}/pages/3"
    r = await client.get(url, headers=user.headers)
    assert r.status_code == 200
    body = r.json()
    assert (body["filename"], body["page"], body["page_count"]) == ("nightingale.pdf", 3, 4)
    assert "PINEAPPLE-42" in " ".join(p["text"] for p in body["passages"])
    r = await client.get(f"/api/documents/{report['id']}/pages/9", headers=user.headers)
    assert (r.status_code, r.json()["error"]) == (404, "page_not_found")
    r = await client.get(f"/api/documents/{report['id']}/pages/0", headers=user.headers)
    assert r.status_code == 422
    assert (await client.get(url, headers=other_user.headers)).status_code == 404
