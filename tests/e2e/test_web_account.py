"""Account pages and the admin pages, in a real Chromium against `agent-service serve` as a process:
a forgotten password reset from the mailed link, and what an administrator sees (users, deliveries)
that a user does not."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, expect

from agent_testkit import github_webhook
from tests.browser import (
    BROWSER_MODULE,
    WebService,
    mailed_link,
    new_page,
    screenshot,
    sign_in,
    web_service,
)

pytestmark = BROWSER_MODULE

ADMIN = ("ops@example.com", "ops-password-1")
WEBHOOK_SECRET = "web-e2e-webhook-secret"
PING = Path(__file__).resolve().parents[1] / "fixtures" / "github-webhooks" / "ping.payload.json"


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebService]:
    """One service for the module: each test signs up its own user."""
    env = {
        "FIRST_ADMIN_EMAIL": ADMIN[0],
        "FIRST_ADMIN_PASSWORD": ADMIN[1],
        "GITHUB_WEBHOOK_SECRET": WEBHOOK_SECRET,
    }
    with web_service(tmp_path_factory.mktemp("web-account"), env) as running:
        yield running


def register(service: WebService, email: str, password: str) -> None:
    r = httpx.post(
        f"{service.base_url}/api/auth/register",
        json={"email": email, "password": password},
        timeout=10,
    )
    assert r.status_code == 201, r.text


def test_a_forgotten_password_is_reset_from_the_mailed_link(
    service: WebService, browser: Browser
) -> None:
    email = "forgetful@example.com"
    register(service, email, "old-password-1")
    with new_page(browser, service.base_url) as page:
        page.goto("/login")
        page.get_by_role("link", name="Forgot your password?").click()
        page.get_by_label("Email").fill(email)
        page.get_by_role("button", name="Send a reset link").click()
        expect(page.locator(".flash-success")).to_be_visible()

        link = mailed_link(service.mail_dir, email, "/reset-password")
        assert link.startswith(f"{service.base_url}/reset-password?token=")
        page.goto(link)
        expect(page).to_have_url(f"{service.base_url}/reset-password")  # token out of the URL
        page.locator("input[name=new_password]").fill("new-password-1")
        screenshot(page, "08-reset-password")
        page.get_by_role("button", name="Set password").click()
        expect(page.locator(".flash-success")).to_contain_text("password is changed")

        sign_in(page, email, "old-password-1", to_chat=False)
        expect(page.locator(".flash-error")).to_be_visible()
        sign_in(page, email, "new-password-1", to_chat=False)
        expect(page).to_have_url(f"{service.base_url}/chat")

        page.goto(link)  # the link works once
        expect(page.locator("input[name=new_password]")).to_be_visible()
        page.locator("input[name=new_password]").fill("third-password-1")
        page.get_by_role("button", name="Set password").click()
        expect(page.locator(".flash-error")).to_be_visible()


def test_admins_see_users_and_deliveries_and_users_do_not(
    service: WebService, browser: Browser
) -> None:
    register(service, "member@example.com", "member-password-1")
    body, headers = github_webhook(WEBHOOK_SECRET, PING.read_bytes(), event="ping")
    r = httpx.post(f"{service.base_url}/webhooks/github", content=body, headers=headers, timeout=10)
    assert r.status_code in (200, 202), r.text

    with new_page(browser, service.base_url) as page:
        sign_in(page, "member@example.com", "member-password-1", to_chat=False)
        expect(page.locator("#chat-input")).to_be_visible()
        expect(page.get_by_role("link", name="Users")).to_have_count(0)
        page.goto("/admin/users")
        expect(page.locator("h1")).to_have_text("Not allowed")

    with new_page(browser, service.base_url) as page:
        sign_in(page, *ADMIN, to_chat=False)
        page.get_by_role("link", name="Users").click()
        rows = page.locator("tbody tr")
        expect(rows.filter(has_text="member@example.com")).to_have_count(1)
        expect(rows.filter(has_text=ADMIN[0]).locator(".badge-admin")).to_have_text("admin")
        screenshot(page, "09-admin-users")

        page.get_by_role("link", name="Deliveries").click()
        ping = page.locator("tbody tr", has_text="ping")
        expect(ping).to_have_count(1)
        screenshot(page, "10-admin-deliveries")
