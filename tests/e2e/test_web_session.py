"""A sign-in that survives a new tab (the HttpOnly refresh cookie), in a real Chromium against
`agent-service serve` as a process; Sign out ends it for every tab of the browser."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Route, expect

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


def test_a_page_left_while_it_loads_draws_nothing_over_the_next(
    service: WebService, browser: Browser
) -> None:
    """Sign out while the chat still loads its agents: the chat's late answers neither bring its
    address back nor draw an error over the sign-in page (CI saw `/chat` with "Authentication is
    required" after Sign out)."""
    email, password = "left@example.com", "left-password-1"
    r = httpx.post(
        f"{service.base_url}/api/auth/register",
        json={"email": email, "password": password},
        timeout=10,
    )
    assert r.status_code == 201, r.text
    with new_page(browser, service.base_url) as page:
        held: list[Route] = []
        page.route("**/api/agents", lambda route: held.append(route))  # held until released
        page.goto("/login")
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()
        expect(page.locator("#chat-input")).to_be_visible()
        for _ in range(100):  # the route's handler runs in this thread's event loop: let it
            if held:
                break
            page.wait_for_timeout(50)
        assert len(held) == 1, "the chat page never asked for its agents"

        page.get_by_role("button", name="Sign out").click()
        expect(page).to_have_url(f"{service.base_url}/login")
        # released, the left chat goes on: its next request has no token and gets a 401
        with page.expect_response("**/api/conversations?*") as late:
            held[0].continue_()
        assert late.value.status == 401
        expect(page).to_have_url(f"{service.base_url}/login")
        expect(page.get_by_role("button", name="Sign in")).to_be_visible()
        expect(page.locator(".error-box")).to_have_count(0)
