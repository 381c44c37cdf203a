"""A real Chromium for page tests (Playwright driving the system browser), screenshots, mailed links."""

from __future__ import annotations

import email
import email.policy
import os
import re
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.database import postgres_database
from tests.service_process import running_service

CHROMIUM = Path("/usr/bin/chromium")
# Skips a browser module before its fixtures start a service for nothing.
needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(), reason=f"{CHROMIUM} is not installed (Debian: apt-get install chromium)"
)
# A browser module's marks: a process start, a browser and maybe a job are minutes on a loaded CI
# box, seconds on a quiet one; skipped before its fixtures run when there is no Chromium.
BROWSER_MODULE = [pytest.mark.e2e, pytest.mark.timeout(180), needs_chromium]
SCREENSHOTS = Path(__file__).resolve().parents[1] / "var" / "screenshots"
DEFAULT_WAIT_MS = 15_000
STARTUP_TIMEOUT = 90.0  # a loaded 2-core CI box can take most of a minute to import and migrate


@dataclass
class WebService:
    base_url: str
    mail_dir: Path


@contextmanager
def web_service(
    folder: Path, env: dict[str, str] | None = None, args: tuple[str, ...] = ()
) -> Iterator[WebService]:
    """`agent-service serve` as a process on its own data folder and database (PostgreSQL when
    TEST_DATABASE_URL is set), for page tests; any scope of fixture may hold one."""
    with ExitStack() as stack:
        server_url = os.environ.get("TEST_DATABASE_URL")
        database_url = (
            stack.enter_context(
                postgres_database(server_url.replace("postgresql://", "postgresql+psycopg://", 1))
            )
            if server_url
            else ""
        )
        full_env = {
            "DATA_DIR": str(folder / "var"),
            "DATABASE_URL": database_url,
            "JWT_SECRET": "e2e-" + "0123456789abcdef" * 4,
            "ARGON2_TIME_COST": "1",
            "ARGON2_MEMORY_KIB": "1024",
            "MAIL_BACKEND": "file",
            **(env or {}),
        }
        base_url = stack.enter_context(
            running_service(
                full_env,
                log_path=folder / "service.log",
                startup_timeout=STARTUP_TIMEOUT,
                extra_args=args,
            )
        )
        yield WebService(base_url, folder / "var" / "mail")


@contextmanager
def chromium() -> Iterator[Browser]:
    """The system Chromium, headless; the test is skipped (saying why) if it is not installed.
    Tests take it as the module-scoped `browser` fixture."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (Debian: apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM))
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def new_page(browser: Browser, base_url: str) -> Iterator[Page]:
    """A fresh context (no storage shared with other tests) whose page fails on a script error."""
    context = browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 860})
    context.set_default_timeout(DEFAULT_WAIT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        yield page
    finally:
        context.close()
    assert errors == [], f"script errors in the page: {errors}"


def screenshot(page: Page, name: str) -> Path:
    """Saves `var/screenshots/<name>.png` (for people to look at; git ignores var/)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


def mailed_link(mail_dir: Path, to: str, path: str, *, timeout: float = 10.0) -> str:
    """The newest link to `path` in a mail to `to`, read as a person's mail client shows it."""
    pattern = re.compile(rf"https?://[^\s\"'<>]+{re.escape(path)}\?token=[^\s\"'<>]+")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for eml in sorted(mail_dir.glob("*.eml"), key=lambda p: p.stat().st_mtime, reverse=True):
            message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
            if to not in str(message["To"]):
                continue
            body = message.get_body(preferencelist=("plain",))
            assert body is not None, f"{eml.name} has no text part"
            if match := pattern.search(body.get_content()):
                return match.group(0)
        time.sleep(0.1)
    raise AssertionError(f"no mail to {to} with a {path} link in {mail_dir} after {timeout}s")


def sign_in(page: Page, email: str, password: str, *, to_chat: bool = True) -> None:
    """Sign in through the page, as a person does; with `to_chat`, wait for the chat it opens."""
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    if to_chat:
        expect(page.locator("#chat-input")).to_be_visible()


@contextmanager
def signed_up(base_url: str, email: str, password: str) -> Iterator[httpx.Client]:
    """A new user's API client (the test's view of the state behind the page)."""
    with httpx.Client(base_url=base_url, timeout=10) as client:
        credentials = {"email": email, "password": password}
        assert client.post("/api/auth/register", json=credentials).status_code == 201
        token = client.post("/api/auth/login", json=credentials).json()["access_token"]
        client.headers["Authorization"] = f"Bearer {token}"
        yield client
