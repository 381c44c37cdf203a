"""/docs and /redoc in a real Chromium with every non-loopback request blocked: they render, and
Swagger UI's Authorize signs in through POST /api/auth/token and then calls a protected route."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, Page, Route, expect

from tests.browser import needs_chromium
from tests.service_process import running_service

# A browser and a service process on 2 shared cores: start-up alone has taken 60 s under load.
# The pages never touch the database (the service runs on embedded SQLite either way), so the
# PostgreSQL pass of `make test` would only repeat them.
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.timeout(200),
    needs_chromium,
    pytest.mark.skipif(
        bool(os.environ.get("TEST_DATABASE_URL")),
        reason="no database in these pages: they run in the SQLite pass",
    ),
]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}
EMAIL, PASSWORD = "docs@example.com", "docs-password-1"


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One service for the module (embedded SQLite: the docs pages do not touch the database)."""
    folder = tmp_path_factory.mktemp("docs-service")
    env = {
        "DATA_DIR": str(folder / "var"),
        "DATABASE_URL": "",
        "ARGON2_TIME_COST": "1",
        "ARGON2_MEMORY_KIB": "1024",
    }
    with running_service(env, log_path=folder / "service.log", startup_timeout=90) as base_url:
        r = httpx.post(f"{base_url}/api/auth/register", json={"email": EMAIL, "password": PASSWORD})
        assert r.status_code == 201, r.text
        yield base_url


@pytest.fixture
def browser_page(browser: Browser) -> Iterator[tuple[Page, list[str]]]:
    """A page of its own context whose every request off loopback is aborted (and listed)."""
    blocked: list[str] = []

    def loopback_only(route: Route) -> None:
        if urlsplit(route.request.url).hostname in LOOPBACK:
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort("internetdisconnected")

    context = browser.new_context()
    try:
        context.route("**/*", loopback_only)
        yield context.new_page(), blocked
    finally:
        context.close()


def test_swagger_ui_renders_offline_and_authorize_works(
    service: str, browser_page: tuple[Page, list[str]]
) -> None:
    page, blocked = browser_page
    page.set_default_timeout(15_000)
    page.goto(f"{service}/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Agent service")
    expect(page.locator(".swagger-ui .info")).to_contain_text("Getting started")

    page.locator(".auth-wrapper button.authorize").click()
    page.locator("#oauth_username").fill(EMAIL)
    page.locator("#oauth_password").fill(PASSWORD)
    page.locator(".modal-ux .auth-btn-wrapper button.authorize").click()
    expect(page.locator(".modal-ux button:has-text('Logout')")).to_be_visible()
    page.locator(".modal-ux button.btn-done").click()

    profile = page.locator(".opblock-get:has([data-path='/api/profile'])").first
    profile.locator(".opblock-summary").click()
    profile.locator("button.try-out__btn").click()
    profile.locator("button.execute").click()
    status = profile.locator(".live-responses-table tbody .response-col_status").first
    expect(status).to_have_text("200")
    expect(profile.locator(".live-responses-table")).to_contain_text(EMAIL)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "docs-swagger-ui.png"), full_page=False)
    assert blocked == [], f"the docs page tried to reach: {blocked}"


def test_redoc_renders_offline(service: str, browser_page: tuple[Page, list[str]]) -> None:
    page, blocked = browser_page
    page.set_default_timeout(15_000)
    page.goto(f"{service}/redoc")
    expect(page.locator("h1").first).to_contain_text("Agent service")
    expect(page.get_by_text("Getting started").first).to_be_visible()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "docs-redoc.png"))
    assert blocked == [], f"the ReDoc page tried to reach: {blocked}"
