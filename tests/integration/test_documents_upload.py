"""Uploads: streamed with the limit enforced while reading, typed by content, names sanitised."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI
from starlette.types import Message

from agent_service.settings import Settings
from tests.conftest import (
    STORAGE_BACKENDS,
    StoredFiles,
    UploadFile,
    WaitProcessed,
    make_text_pdf,
    use_fast_jobs,
)
from tests.factories import TestUser

LIMIT = 256 * 1024
CHUNK = 64 * 1024
BOUNDARY = "agent-test-boundary"


@pytest.fixture(params=STORAGE_BACKENDS)
def storage_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    settings.max_upload_bytes = LIMIT
    return use_fast_jobs(settings)


class CountingBody:
    """A multipart body sent in 64 KiB chunks, counting what the server pulled from it.

    A plain async iterator, not an async generator: one the server stops pulling from is simply
    dropped, with no generator left to finalise after the test's event loop is gone.
    """

    def __init__(self, file_size: int, *, prefix: bytes = b"") -> None:
        self.head = (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="big.txt"\r\nContent-Type: text/plain\r\n\r\n'
        ).encode()
        self.file_size = file_size
        self.prefix = prefix
        self.tail = f"\r\n--{BOUNDARY}--\r\n".encode()
        self.sent = 0
        self._pieces: Iterator[bytes] = iter(())

    @property
    def total(self) -> int:
        return len(self.head) + self.file_size + len(self.tail)

    def _all_pieces(self) -> Iterator[bytes]:
        yield self.head
        remaining = self.file_size
        first = True
        while remaining > 0:
            n = min(CHUNK, remaining)
            remaining -= n
            yield (self.prefix + b"a" * n)[:n] if first else b"a" * n
            first = False
        yield self.tail

    def __aiter__(self) -> CountingBody:
        self._pieces = self._all_pieces()
        return self

    async def __anext__(self) -> bytes:
        piece = next(self._pieces, None)
        if piece is None:
            raise StopAsyncIteration
        self.sent += len(piece)
        return piece


def multipart_headers(user: TestUser, **extra: str) -> dict[str, str]:
    return {**user.headers, "Content-Type": f"multipart/form-data; boundary={BOUNDARY}", **extra}


async def test_a_pdf_is_accepted_for_processing(
    upload_file: UploadFile,
    wait_processed: WaitProcessed,
    user: TestUser,
    settings: Settings,
    stored_files: StoredFiles,
) -> None:
    r = await upload_file(user, "pdflatex-4-pages.pdf")

    assert r.status_code == 202, r.text
    body = r.json()
    assert body["status"] == "processing"
    assert body["document_id"] == body["id"]
    assert r.headers["location"] == f"/api/documents/{body['id']}"
    assert (body["filename"], body["content_type"]) == ("pdflatex-4-pages.pdf", "application/pdf")
    assert body["size_bytes"] == 24607 and body["progress"] == 0.0
    # stored under the data directory, named by id: the client's name never reaches the disk
    assert await stored_files() == [body["id"].replace("-", "")]
    assert (await wait_processed(user, body["id"]))["status"] == "ready"


async def test_an_upload_just_under_the_limit_is_accepted(
    client: httpx.AsyncClient, user: TestUser, wait_processed: WaitProcessed
) -> None:
    body = CountingBody(LIMIT)
    r = await client.post("/api/documents", content=body, headers=multipart_headers(user))

    assert r.status_code == 202, r.text
    assert r.json()["size_bytes"] == LIMIT
    assert body.sent == body.total
    assert (await wait_processed(user, r.json()["id"]))["status"] == "ready"


async def test_an_upload_over_the_limit_is_refused_as_soon_as_it_crosses_it(
    client: httpx.AsyncClient, user: TestUser, settings: Settings, stored_files: StoredFiles
) -> None:
    """No Content-Length (chunked): the server counts while reading and stops at the limit."""
    body = CountingBody(60 * LIMIT)  # 15 MiB offered
    r = await client.post("/api/documents", content=body, headers=multipart_headers(user))

    assert r.status_code == 413
    assert r.json()["error"] == "file_too_large"
    assert "File too large" in r.json()["detail"]
    assert "256 KB" in r.json()["detail"] or str(LIMIT) in r.json()["detail"]
    # what the server pulled: the limit plus at most the chunk that crossed it, not the body
    assert body.sent <= LIMIT + len(body.head) + CHUNK
    assert body.sent < body.total / 10
    assert await stored_files() == []  # the partial file is gone
    # and the connection closes, so the server does not read (and drop) the rest either
    assert r.headers["connection"] == "close"


async def test_a_declared_length_over_the_limit_is_refused_before_reading_a_byte(
    client: httpx.AsyncClient, user: TestUser
) -> None:
    body = CountingBody(4 * LIMIT)
    headers = multipart_headers(user, **{"Content-Length": str(body.total)})
    r = await client.post("/api/documents", content=body, headers=headers)

    assert r.status_code == 413
    assert r.json()["error"] == "file_too_large"
    assert body.sent == 0
    assert r.headers["connection"] == "close"


async def test_a_response_to_a_fully_read_body_keeps_the_connection(
    upload_file: UploadFile, wait_processed: WaitProcessed, user: TestUser
) -> None:
    r = await upload_file(user, b"Some text.", filename="a.txt")
    assert "connection" not in r.headers
    await wait_processed(user, r.json()["id"])


async def test_the_body_is_not_read_for_an_unauthenticated_upload(
    client: httpx.AsyncClient,
) -> None:
    body = CountingBody(4 * LIMIT)
    headers = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
    r = await client.post("/api/documents", content=body, headers=headers)

    assert r.status_code == 401
    assert body.sent == 0


EXECUTABLES = {
    "windows": (
        b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + bytes(range(256)) * 40,
        "Windows executable",
    ),
    "linux": (b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 40, "Linux executable"),
    "png": (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40, "PNG image"),
    "binary": (bytes(range(256)) * 40, "binary data"),
}


@pytest.mark.parametrize("kind", list(EXECUTABLES))
async def test_a_disguised_file_is_refused_from_its_bytes(
    kind: str,
    upload_file: UploadFile,
    client: httpx.AsyncClient,
    user: TestUser,
    settings: Settings,
    stored_files: StoredFiles,
) -> None:
    content, what = EXECUTABLES[kind]
    r = await upload_file(user, content, filename="quarterly-report.pdf")

    assert r.status_code == 415, r.text
    assert r.json()["error"] == "unsupported_file_type"
    assert what in r.json()["detail"]
    assert "PDF" in r.json()["detail"]
    listed = await client.get("/api/documents", headers=user.headers)
    assert listed.json() == []
    assert await stored_files() == []


async def test_an_executable_is_refused_before_the_rest_is_read(
    client: httpx.AsyncClient, user: TestUser
) -> None:
    body = CountingBody(LIMIT, prefix=b"MZ\x90\x00\x03\x00\x00\x00")
    r = await client.post("/api/documents", content=body, headers=multipart_headers(user))

    assert r.status_code == 415
    assert body.sent <= len(body.head) + CHUNK


@pytest.mark.parametrize(
    ("content", "filename", "content_type"),
    [
        (b"Plain notes.\nSecond line, caf\xc3\xa9.\n", "notes.txt", "text/plain"),
        (
            b"# Title\n\nSome *text* and a [link](https://example.com).\n",
            "notes.md",
            "text/markdown",
        ),
        (
            b"# Plan\n\n- first\n- second\n\nSee [docs](https://example.com).\n",
            "plan.txt",
            "text/markdown",
        ),
        (b"Text named like a PDF is text.\n", "fake.pdf", "text/plain"),
        (b"Legacy caf\xe9 text in Windows-1252.\n", "old.txt", "text/plain"),
    ],
)
async def test_text_and_markdown_are_recognised_by_content(
    content: bytes,
    filename: str,
    content_type: str,
    upload_file: UploadFile,
    wait_processed: WaitProcessed,
    user: TestUser,
) -> None:
    r = await upload_file(user, content, filename=filename)

    assert r.status_code == 202, r.text
    assert r.json()["content_type"] == content_type
    document = await wait_processed(user, r.json()["id"])
    assert (document["status"], document["page_count"], document["chunk_count"]) == ("ready", 1, 1)


def make_docx(paragraphs: list[str]) -> bytes:
    ns = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
    body = "".join(f"<w:p><w:r><w:t>{text}</w:t></w:r></w:p>" for text in paragraphs)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr(
            "word/document.xml", f'<w:document xmlns:w="{ns}"><w:body>{body}</w:body></w:document>'
        )
    return buffer.getvalue()


async def test_a_docx_is_accepted_and_a_plain_zip_is_not(
    upload_file: UploadFile, wait_processed: WaitProcessed, user: TestUser
) -> None:
    r = await upload_file(user, make_docx(["Quarterly plan", "Ship the thing."]), filename="p.docx")
    assert r.status_code == 202, r.text
    assert r.json()["content_type"].endswith("wordprocessingml.document")
    assert (await wait_processed(user, r.json()["id"]))["status"] == "ready"

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("data.csv", "a,b\n1,2\n")
    r = await upload_file(user, buffer.getvalue(), filename="data.docx")
    assert r.status_code == 415
    assert "ZIP archive" in r.json()["detail"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("../../etc/passwd.txt", "passwd.txt"),
        ("C:\\Users\\me\\report<v2>.txt", "report_v2_.txt"),
        ("invoice\u202etxt.exe.txt", "invoicetxt.exe.txt"),  # a right-to-left override is dropped
        ("   ..hidden.txt  ", "hidden.txt"),
        ("résumé 2024.txt", "résumé 2024.txt"),
        ("", "document"),
    ],
)
async def test_the_filename_is_sanitised(
    raw: str, expected: str, upload_file: UploadFile, wait_processed: WaitProcessed, user: TestUser
) -> None:
    r = await upload_file(user, b"Some text.", filename=raw)

    assert r.status_code == 202, r.text
    assert r.json()["filename"] == expected
    await wait_processed(user, r.json()["id"])


async def test_malformed_requests_are_refused_with_a_reason(
    client: httpx.AsyncClient, user: TestUser, settings: Settings, stored_files: StoredFiles
) -> None:
    r = await client.post("/api/documents", json={"file": "x"}, headers=user.headers)
    assert (r.status_code, r.json()["error"]) == (415, "multipart_required")

    r = await client.post(
        "/api/documents", files={"attachment": ("a.txt", b"text")}, headers=user.headers
    )
    assert (r.status_code, r.json()["error"]) == (422, "validation_error")
    assert r.json()["errors"] == [{"field": "file", "message": "Field required"}]

    r = await client.post("/api/documents", files={"file": ("a.txt", b"")}, headers=user.headers)
    assert (r.status_code, r.json()["error"]) == (400, "empty_file")

    truncated = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n\r\nabc'
    )
    r = await client.post(
        "/api/documents", content=truncated.encode(), headers=multipart_headers(user)
    )
    assert (r.status_code, r.json()["error"]) == (400, "malformed_upload")
    assert await stored_files() == []


async def test_a_generated_pdf_round_trips(
    upload_file: UploadFile, wait_processed: WaitProcessed, user: TestUser
) -> None:
    r = await upload_file(user, make_text_pdf(["one", "two", "three"]), filename="gen.pdf")
    document = await wait_processed(user, r.json()["id"])
    assert (document["status"], document["page_count"], document["pages_processed"]) == (
        "ready",
        3,
        3,
    )


async def test_an_upload_cut_short_by_the_client_leaves_nothing_behind(
    app: FastAPI,
    client: httpx.AsyncClient,
    user: TestUser,
    settings: Settings,
    stored_files: StoredFiles,
) -> None:
    body = CountingBody(LIMIT)
    messages: list[Message] = [
        {"type": "http.request", "body": body.head + b"a" * 10_000, "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[Message] = []

    async def receive() -> Message:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    headers = multipart_headers(user, **{"Transfer-Encoding": "chunked"})
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/documents",
        "raw_path": b"/api/documents",
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    await app(scope, receive, send)

    assert sent[0]["status"] == 400
    assert await stored_files() == []
    assert (await client.get("/api/documents", headers=user.headers)).json() == []
