"""Processing real PDFs in the background, on both job runners: pages, chunks, progress, failures.

The PDFs are real files from py-pdf, pypdf and pdf.js (tests/fixtures/pdf/SOURCES.md).
"""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from agent_service.documents.retrieval import search_passages
from agent_service.settings import Settings
from agent_testkit import aiter_sse
from tests.conftest import (
    JOB_RUNNERS,
    LONG_PDF_PAGES,
    StoredFiles,
    UploadFile,
    WaitProcessed,
    long_pdf,
    use_fast_jobs,
)
from tests.factories import TestUser

pytestmark = pytest.mark.usefixtures("job_worker")


# Each job runner and each storage backend at least once, not every pair (the processing code is
# one): on PostgreSQL, procrastinate's worker reads the bucket, as a worker on another host would.
RUNNER_AND_STORAGE = [("inline", "local"), (JOB_RUNNERS[-1], "s3")]


@pytest.fixture(params=RUNNER_AND_STORAGE, ids="-".join)
def runner_and_storage(request: pytest.FixtureRequest) -> tuple[str, str]:
    runner, storage = request.param
    return runner, storage


@pytest.fixture
def storage_backend(runner_and_storage: tuple[str, str]) -> str:
    return runner_and_storage[1]


@pytest.fixture
def settings(settings: Settings, runner_and_storage: tuple[str, str]) -> Settings:
    return use_fast_jobs(settings, runner_and_storage[0])


async def process(upload_file: UploadFile, wait: WaitProcessed, user: TestUser, name: str) -> dict:
    r = await upload_file(user, name)
    assert r.status_code == 202, r.text
    return await wait(user, r.json()["id"])


@pytest.mark.parametrize(
    ("name", "pages"),
    [
        ("pdflatex-4-pages.pdf", 4),
        ("Seige_of_Vicksburg_Sample_OCR.pdf", 6),  # real scan with an OCR text layer
        ("helloworld-bad.pdf", 1),  # wrong xref offsets: repaired, not refused
        ("multilang.pdf", 1),
        ("habibi.pdf", 1),
    ],
)
async def test_readable_pdfs_become_ready_page_by_page(
    name: str, pages: int, upload_file: UploadFile, wait_processed: WaitProcessed, user: TestUser
) -> None:
    document = await process(upload_file, wait_processed, user, name)

    assert document["status"] == "ready", document["error"]
    assert (document["page_count"], document["pages_processed"]) == (pages, pages)
    assert document["progress"] == 1.0
    assert document["chunk_count"] >= 1
    assert document["error"] is None
    assert document["processed_at"] is not None


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("libreoffice-writer-password.pdf", "The PDF is encrypted (password-protected)"),  # RC4
        ("r6-both-passwords.pdf", "The PDF is encrypted (password-protected)"),  # AES-256
        ("bug1020226.pdf", "The PDF is corrupted and could not be read"),
        ("jbig2_symbol_offset.pdf", "The PDF has no text layer"),  # image only: needs OCR
    ],
)
async def test_unreadable_pdfs_fail_with_the_reason(
    name: str,
    reason: str,
    upload_file: UploadFile,
    wait_processed: WaitProcessed,
    user: TestUser,
) -> None:
    document = await process(upload_file, wait_processed, user, name)

    assert document["status"] == "failed"
    assert document["error"].startswith(reason)
    assert document["chunk_count"] == 0
    assert "Traceback" not in document["error"]


async def test_pages_and_chunks_keep_their_page_numbers(
    app: FastAPI, upload_file: UploadFile, wait_processed: WaitProcessed, user: TestUser
) -> None:
    document = await process(upload_file, wait_processed, user, "pdflatex-4-pages.pdf")

    async with app.state.sessionmaker() as session:
        passages = await search_passages(session, "meaning text", user_id=user.id, limit=50)
    assert {p.page for p in passages} == {1, 2, 3, 4}
    assert all(str(p.document_id) == document["id"] for p in passages)


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("حبيبي", "حَبيبي"),  # Arabic typed without its vowel marks still finds them
        ("世界", "你好世界"),  # Chinese, no spaces between words
        ("สวัสดี", "สวัสดีชาวโลก"),  # Thai, no spaces either
        ("Привет", "Привет, мир"),
        ("こんにちは", "こんにちは世界"),
        ("hello world", "Hello World"),
    ],
)
async def test_unicode_survives_extraction_and_search(
    question: str,
    expected: str,
    app: FastAPI,
    upload_file: UploadFile,
    wait_processed: WaitProcessed,
    user: TestUser,
) -> None:
    for name in ("multilang.pdf", "habibi.pdf"):
        assert (await process(upload_file, wait_processed, user, name))["status"] == "ready"

    async with app.state.sessionmaker() as session:
        passages = await search_passages(session, question, user_id=user.id)
    assert passages, f"nothing found for {question!r}"
    assert expected in passages[0].text


async def test_progress_is_streamed_by_pages_until_ready(
    client: httpx.AsyncClient, upload_file: UploadFile, user: TestUser
) -> None:
    r = await upload_file(user, long_pdf(), filename="geotopo.pdf")  # 40 real pages
    document_id = r.json()["id"]

    async with client.stream(
        "GET", f"/api/documents/{document_id}/events", headers=user.headers
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = [event async for event in aiter_sse(response)]

    assert {e.event for e in events} == {"progress"}
    progress = [e.json() for e in events]
    assert progress[-1]["status"] == "ready"
    assert progress[-1]["progress"] == 1.0
    assert progress[-1]["pages_processed"] == progress[-1]["page_count"] == LONG_PDF_PAGES
    values = [p["progress"] for p in progress]
    assert values == sorted(values)
    assert any(0 < v < 1 for v in values), values  # seen mid-way, not only at the end
    assert all(p["status"] == "processing" for p in progress[:-1])


async def test_events_of_a_finished_document_end_at_once(
    client: httpx.AsyncClient,
    upload_file: UploadFile,
    wait_processed: WaitProcessed,
    user: TestUser,
) -> None:
    document = await process(upload_file, wait_processed, user, "bug1020226.pdf")
    r = await client.get(f"/api/documents/{document['id']}/events", headers=user.headers)

    [event] = [e for e in aiter_sse_text(r.text)]
    assert event.event == "progress"
    assert event.json()["status"] == "failed"
    assert event.json()["error"].startswith("The PDF is corrupted")


def aiter_sse_text(text: str) -> list:
    from agent_testkit import parse_sse

    return parse_sse(text)


async def test_list_get_and_delete(
    app: FastAPI,
    client: httpx.AsyncClient,
    upload_file: UploadFile,
    wait_processed: WaitProcessed,
    user: TestUser,
    stored_files: StoredFiles,
) -> None:
    first = await process(upload_file, wait_processed, user, "pdflatex-4-pages.pdf")
    second = await process(upload_file, wait_processed, user, "habibi.pdf")

    listed = await client.get("/api/documents?limit=1", headers=user.headers)
    assert [d["id"] for d in listed.json()] == [second["id"]]
    assert listed.headers["x-total-count"] == "2"

    r = await client.delete(f"/api/documents/{first['id']}", headers=user.headers)
    assert r.status_code == 204
    assert (
        await client.get(f"/api/documents/{first['id']}", headers=user.headers)
    ).status_code == 404
    async with app.state.sessionmaker() as session:
        left = await search_passages(session, "meaning text Hello", user_id=user.id, limit=50)
    assert {str(p.document_id) for p in left} <= {second["id"]}
    assert await stored_files() == [second["id"].replace("-", "")]


async def test_another_user_gets_404_on_everything(
    client: httpx.AsyncClient,
    upload_file: UploadFile,
    wait_processed: WaitProcessed,
    user: TestUser,
    other_user: TestUser,
) -> None:
    document = await process(upload_file, wait_processed, user, "pdflatex-4-pages.pdf")
    url = f"/api/documents/{document['id']}"
    theirs = other_user.headers

    for method, path, body in [
        ("GET", url, None),
        ("DELETE", url, None),
        ("GET", f"{url}/events", None),
        ("POST", f"{url}/ask", {"question": "What is this about?", "stream": False}),
        ("GET", "/api/documents/not-a-uuid", None),
        ("GET", "/api/documents/00000000-0000-0000-0000-000000000000", None),
    ]:
        r = await client.request(method, path, json=body, headers=theirs)
        assert r.status_code == 404, (method, path, r.text)
        assert r.json()["error"] == "document_not_found"
    assert (await client.get("/api/documents", headers=theirs)).json() == []
    # and it is all still there for its owner
    assert (await client.get(url, headers=user.headers)).json()["status"] == "ready"


async def test_the_admin_overview_counts_documents(
    client: httpx.AsyncClient,
    upload_file: UploadFile,
    wait_processed: WaitProcessed,
    user: TestUser,
    admin: TestUser,
) -> None:
    await process(upload_file, wait_processed, user, "habibi.pdf")
    r = await client.get("/api/admin/users", headers=admin.headers)
    counts = {row["email"]: row["counts"] for row in r.json()}
    assert (counts[user.email]["documents"], counts[admin.email]["documents"]) == (1, 0)
