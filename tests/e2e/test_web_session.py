"""A sign-in that survives a new tab (the HttpOnly refresh cookie), in a real Chromium against
`agent-service serve` as a process; Sign out ends it for every tab of the browser."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.browser import BROWSER_MODULE, WebService, new_page, screenshot, web_service

pytestmark = BROWSER_MODULE


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebService]:
    with web_service(tmp_path_factory.mktemp("web-session"), {}) as running:
        yield running


def test_a_new_tab_stays_signed_in_until_sign_out(service: WebService, browser: Browser) -> None:
    email, password = "tabs@example.com", "tabs-password-1"
    r = httpx.post(
        f"{service.base_url}/api/auth/register",
        json={"email": email, "password": password},
        timeout=10,
    )
    assert r.status_code == 201, r.text
    with new_page(browser, service.base_url) as page:
        page.goto("/login")
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()
        expect(page).to_have_url(f"{service.base_url}/chat")
        cookies = page.context.cookies()
        refresh = [c for c in cookies if c["name"] == "agent_service_refresh"]
        assert refresh and refresh[0]["httpOnly"] and refresh[0]["path"] == "/api/auth"
        assert page.evaluate("document.cookie") == ""  # out of the page's scripts' reach

        second = page.context.new_page()  # a new tab: its sessionStorage starts empty
        second.goto("/tasks")
        expect(second).to_have_url(f"{service.base_url}/tasks")
        expect(second.get_by_role("button", name="Sign out")).to_be_visible()
        screenshot(second, "24-new-tab-signed-in")

        second.get_by_role("button", name="Sign out").click()
        expect(second).to_have_url(f"{service.base_url}/login")

        third = page.context.new_page()
        third.goto("/tasks")
        expect(third).to_have_url(f"{service.base_url}/login")
        expect(third.get_by_role("button", name="Sign in")).to_be_visible()
