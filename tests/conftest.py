"""Fixtures of the service's suite: one migrated database per run, the app started per test."""

from __future__ import annotations

import contextlib
import email
import functools
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from email.message import Message
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from agent_service.app import create_app
from agent_service.settings import Settings
from tests import factories
from tests.database import (
    RowEraser,
    jobs_settled,
    migrated_database,
    postgres_database,
)
from tests.factories import TestUser
from tests.faults import DatabaseProxy, SqliteContention, sqlite_path

if TYPE_CHECKING:
    from playwright.sync_api import Browser

TEST_JWT_SECRET = "test-secret-" + "0123456789abcdef" * 4


def pytest_report_header() -> str:
    backend = "PostgreSQL" if os.environ.get("TEST_DATABASE_URL") else "SQLite"
    return f"agent-service database: {backend}"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with migrated_database(tmp_path_factory.mktemp("db")) as url:
        yield url


@pytest.fixture(scope="session")
def rows(database_url: str) -> Iterator[RowEraser]:
    """Empties the suite's database after a test (`rows.erase()`), through one kept connection."""
    with contextlib.closing(RowEraser(database_url)) as eraser:
        yield eraser


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One headless Chromium for a browser module's tests (a launch is ~0.7 s of CPU); each test
    opens its own context with `tests.browser.new_page`, so no cookies or storage are shared."""
    from tests.browser import chromium  # Playwright only where a browser is wanted

    with chromium() as running:
        yield running


@pytest.fixture
def isolated_database_url() -> Iterator[str]:
    """For a service process: its own empty PostgreSQL database, or "" (embedded SQLite)."""
    server_url = os.environ.get("TEST_DATABASE_URL")
    if not server_url:
        yield ""
        return
    with postgres_database(server_url.replace("postgresql://", "postgresql+psycopg://", 1)) as url:
        yield url


@pytest.fixture
def db_proxy(database_url: str) -> Iterator[DatabaseProxy]:
    """A fault-injecting TCP proxy in front of the suite's PostgreSQL (skipped on SQLite).

    A module sends its app through it by overriding `settings`:
    `settings.database_url = db_proxy.url(settings.database_url)`; the row eraser keeps the
    direct URL, so cleaning up works whatever the test left the proxy doing.
    """
    if not database_url.startswith("postgresql"):
        pytest.skip("the database proxy stands in front of PostgreSQL")
    with DatabaseProxy.for_url(database_url) as proxy:
        yield proxy


@pytest.fixture
def db_faults(app: FastAPI, db_proxy: DatabaseProxy) -> Iterator[DatabaseProxy]:
    """The proxy of a test whose app goes through it, restored when the test ends, before the app
    shuts down (its shutdown still talks to the database)."""
    yield db_proxy
    db_proxy.restore()


@pytest.fixture
def proxied_database_url(isolated_database_url: str) -> Iterator[tuple[DatabaseProxy, str]]:
    """For a `serve` process: its own PostgreSQL database and the URL that reaches it through a
    fault-injecting proxy (skipped on SQLite)."""
    if not isolated_database_url:
        pytest.skip("the database proxy stands in front of PostgreSQL")
    with DatabaseProxy.for_url(isolated_database_url) as proxy:
        yield proxy, proxy.url(isolated_database_url)


@pytest.fixture
def sqlite_contention(database_url: str) -> Callable[..., SqliteContention]:
    """Other writers on the suite's SQLite file (skipped on PostgreSQL): `with
    sqlite_contention(writers=8, hold_ms=20): ...` keeps the write lock taken and retaken."""
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite's write lock only")

    def contend(**kwargs: Any) -> SqliteContention:
        return SqliteContention(sqlite_path(database_url), **kwargs)

    return contend


STORAGE_BACKENDS = ["local", "s3"]


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A real S3-compatible server (moto's server mode) on 127.0.0.1, for the whole session."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def storage_backend() -> str:
    """`local` (a folder under DATA_DIR), or `s3` with TEST_STORAGE=s3; storage-heavy test
    modules override this fixture with `params=STORAGE_BACKENDS` to run on both."""
    return os.environ.get("TEST_STORAGE", "local")


@pytest.fixture
def storage_url(storage_backend: str, request: pytest.FixtureRequest) -> str | None:
    """The test app's STORAGE_URL: None (local), or a fresh bucket on the moto server."""
    if storage_backend == "local":
        return None
    import uuid

    endpoint = request.getfixturevalue("s3_endpoint")
    bucket = f"test-{uuid.uuid4().hex[:16]}"
    httpx.put(f"{endpoint}/{bucket}", timeout=10).raise_for_status()
    return (
        f"s3://{bucket}/files?endpoint={endpoint}&region=us-east-1&allow_http=true"
        "&access_key_id=test&secret_access_key=test"
    )


@pytest.fixture
def settings(database_url: str, tmp_path: Path, storage_url: str | None) -> Settings:
    """Settings of a test app: its own data and mail folders, cheap argon2, no .env file."""
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        environment="test",
        database_url=database_url,
        storage_url=storage_url,
        data_dir=tmp_path / "data",
        mail_dir=tmp_path / "mail",
        jwt_secret=TEST_JWT_SECRET,
        argon2_time_cost=1,
        argon2_memory_kib=1024,
        argon2_parallelism=1,
        llm_api_key=None,
        login_refusal_hold_s=0.0,  # a refused login answered at once (its own test holds it)
    )


_built_apps: list[FastAPI] = []


def app_for(settings: Settings, *, own: bool = False) -> FastAPI:
    """The app, built once per test process and given each test's settings.

    Building a FastAPI app is cheap, but its first request builds every route's state (about
    40 ms on the CI box, more than most tests take). Everything a test can change lives in
    `app.state` and is set anew from the settings by the lifespan each test runs; the routes and
    middleware are the same for every settings object. A test that adds routes asks for its own
    app with `@pytest.mark.own_app`.
    """
    if own or not _built_apps:
        application = create_app(settings)
        if not own:
            _built_apps.append(application)
        return application
    application = _built_apps[0]
    application.state.settings = settings
    return application


@pytest.fixture
async def app(
    settings: Settings, rows: RowEraser, request: pytest.FixtureRequest
) -> AsyncIterator[FastAPI]:
    application = app_for(settings, own=request.node.get_closest_marker("own_app") is not None)
    try:
        async with application.router.lifespan_context(application):
            yield application
            await jobs_settled(application.state.engine)
    finally:
        # after the shutdown, no job or run still writes while the rows go; a SQLite connection
        # a job left mid-transaction holds the write lock until its engine lets it go
        await application.state.engine.dispose()
        rows.erase()


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


MakeUser = Callable[..., Awaitable[TestUser]]


@pytest.fixture
def make_user(app: FastAPI, settings: Settings) -> MakeUser:
    """Creates a verified user (or admin) through the service and logs it in."""

    async def make(**kwargs: Any) -> TestUser:
        return await factories.make_user(app.state.sessionmaker, settings, **kwargs)

    return make


@pytest.fixture
async def user(make_user: MakeUser) -> TestUser:
    return await make_user()


@pytest.fixture
async def other_user(make_user: MakeUser) -> TestUser:
    return await make_user()


@pytest.fixture
async def admin(make_user: MakeUser) -> TestUser:
    return await make_user(is_admin=True)


class Outbox:
    """The file mail backend's folder, read as a list of messages."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def messages(self) -> list[Message]:
        if not self.directory.exists():
            return []
        files = sorted(self.directory.glob("*.eml"), key=lambda p: p.stat().st_mtime_ns)
        return [email.message_from_bytes(p.read_bytes()) for p in files]

    def to(self, address: str) -> list[Message]:
        return [m for m in self.messages() if m["To"] == address]

    def token_sent_to(self, address: str) -> str:
        """The `?token=` of the newest mail to `address`."""
        sent = self.to(address)
        assert sent, f"no mail was sent to {address!r}"
        body = sent[-1].get_payload(decode=True)
        assert isinstance(body, bytes)
        text = body.decode()
        return text.split("?token=", 1)[1].split()[0]


@pytest.fixture
def outbox(settings: Settings) -> Outbox:
    assert settings.mail_dir is not None
    return Outbox(settings.mail_dir)


def use_fake_llm(settings: Settings, base_url: str) -> Settings:
    """Point a test app at a fake LLM. Agent test modules override `settings` with it, so the
    app (whose LLM client is built at startup from the base URL and key) is built after it."""
    settings.llm_base_url = base_url
    settings.llm_api_key = SecretStr("test-llm-key")
    settings.llm_model = "fake-model"
    settings.llm_timeout_s = 5.0
    return settings


@pytest.fixture
def llm_waits(app: FastAPI) -> list[float]:
    """The waits the app's LLM client asked for between attempts, recorded instead of slept."""
    waits: list[float] = []

    async def record(seconds: float) -> None:
        waits.append(seconds)

    app.state.llm.sleep = record
    return waits


PDF_FIXTURES = Path(__file__).parent / "fixtures" / "pdf"


def use_fast_jobs(settings: Settings, runner: str = "inline") -> Settings:
    """Background jobs for tests: polled often, retried without real waits, on `runner`."""
    settings.job_runner = runner  # type: ignore[assignment]
    settings.job_poll_interval_s = 0.05
    settings.job_retry_backoff_s = 0.01
    settings.job_max_attempts = 3
    return settings


# procrastinate runs on PostgreSQL only: on SQLite runs the inline runner alone is tested.
JOB_RUNNERS = ["inline", *(["procrastinate"] if os.environ.get("TEST_DATABASE_URL") else [])]


@pytest.fixture
async def job_worker(app: FastAPI, settings: Settings) -> AsyncIterator[None]:
    """With JOB_RUNNER=procrastinate, an `agent-service worker` running in this event loop."""
    if settings.job_runner != "procrastinate":
        yield
        return
    import asyncio

    from agent_service.jobs.procrastinate_queue import run_worker

    task = asyncio.create_task(run_worker(settings, install_signal_handlers=False))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        async with app.state.engine.begin() as conn:  # procrastinate's rows are not in our models
            await conn.exec_driver_sql(
                "TRUNCATE procrastinate_events, procrastinate_periodic_defers, "
                "procrastinate_jobs, procrastinate_workers"
            )


UploadFile = Callable[..., Awaitable[httpx.Response]]


@pytest.fixture
def upload_file(client: httpx.AsyncClient) -> UploadFile:
    """POST /api/documents with one `file` part: bytes, or a fixture PDF's name."""

    async def upload(
        user: TestUser, content: bytes | str, *, filename: str | None = None
    ) -> httpx.Response:
        if isinstance(content, str):
            filename = filename or content
            content = (PDF_FIXTURES / content).read_bytes()
        name = filename if filename is not None else "upload.bin"
        files = {"file": (name, content, "application/octet-stream")}
        return await client.post("/api/documents", files=files, headers=user.headers)

    return upload


StoredFiles = Callable[[], Awaitable[list[str]]]


@pytest.fixture
def stored_files(settings: Settings) -> StoredFiles:
    """The names of the files the app stored: every file under DATA_DIR but the database (so a
    staged leftover counts too), or every object in the test's bucket."""

    async def names() -> list[str]:
        if settings.storage_url:
            from agent_service.storage import build_storage

            keys = await build_storage(settings).keys()
            return sorted(key.rsplit("/", 1)[-1] for key in keys)
        files = settings.data_dir.rglob("*")
        return sorted(p.name for p in files if p.is_file() and p.suffix != ".db")

    return names


WaitProcessed = Callable[..., Awaitable[dict[str, Any]]]


@pytest.fixture
def wait_processed(client: httpx.AsyncClient) -> WaitProcessed:
    """Poll a document until it leaves `processing`; its final JSON."""

    async def wait(user: TestUser, document_id: str, *, timeout_s: float = 30.0) -> dict[str, Any]:
        import asyncio
        import time

        deadline = time.monotonic() + timeout_s
        while True:
            r = await client.get(f"/api/documents/{document_id}", headers=user.headers)
            assert r.status_code == 200, r.text
            if r.json()["status"] != "processing" or time.monotonic() > deadline:
                return dict(r.json())
            await asyncio.sleep(0.02)

    return wait


def make_text_pdf(pages: list[str]) -> bytes:
    """A small, valid PDF with one Helvetica text page per string (for known text on known pages)."""
    import textwrap

    def escape(line: str) -> str:
        return line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    first_page = 4
    kids = " ".join(f"{first_page + 2 * i} 0 R" for i in range(len(pages)))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    for i, text in enumerate(pages):
        lines = [f"({escape(line)}) Tj T*" for line in textwrap.wrap(text, 80)]
        content = "\n".join(["BT /F1 11 Tf 14 TL 72 720 Td", *lines, "ET"]).encode("cp1252")
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 "
            f"3 0 R >> >> /Contents {first_page + 2 * i + 1} 0 R >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    trailer = b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n"
    out += trailer % (len(objects) + 1, xref)
    return bytes(out)


@functools.cache
def first_pages(name: str, count: int) -> bytes:
    """The first `count` pages of a fixture PDF, as a new PDF (a long real document, but quicker)."""
    import io

    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for page in PdfReader(PDF_FIXTURES / name).pages[:count]:
        writer.add_page(page)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


LONG_PDF_PAGES = 40


def long_pdf() -> bytes:
    """40 real pages of German lecture notes: long enough to catch processing half-way."""
    return first_pages("GeoTopo-komprimiert.pdf", LONG_PDF_PAGES)
