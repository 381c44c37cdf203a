"""Every page the service serves, checked by axe-core (vendored under tests/fixtures/axe) in a real
Chromium: no serious or critical violation, signed out, signed in and as an administrator; and at
a phone's width the header folds into a menu without making the page wider than the screen."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser import (
    BROWSER_MODULE,
    DEFAULT_WAIT_MS,
    WebService,
    screenshot,
    sign_in,
    web_service,
)

pytestmark = BROWSER_MODULE

AXE = Path(__file__).resolve().parents[1] / "fixtures" / "axe" / "axe.min.js"
ADMIN = ("a11y-admin@example.com", "a11y-password-1")
PUBLIC_PAGES = ["/login", "/register", "/forgot-password", "/verify-email", "/reset-password"]
USER_PAGES = [
    "/chat",
    "/conversations",
    "/tasks",
    "/projects",
    "/documents",
    "/account",
    "/no-such-page",
]
ADMIN_PAGES = ["/admin/users", "/admin/deliveries"]


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebService]:
    env = {"FIRST_ADMIN_EMAIL": ADMIN[0], "FIRST_ADMIN_PASSWORD": ADMIN[1]}
    with web_service(tmp_path_factory.mktemp("web-a11y"), env, ("--llm", "demo")) as running:
        with httpx.Client(base_url=running.base_url, timeout=10) as client:
            token = client.post(
                "/api/auth/login", json={"email": ADMIN[0], "password": ADMIN[1]}
            ).json()["access_token"]
            headers = {"Authorization": f"Bearer {token}"}
            project = client.post("/api/projects", json={"name": "Launch"}, headers=headers)
            for title, priority in (("Design", "high"), ("Build", "medium"), ("Ship", "low")):
                body = {"title": title, "priority": priority, "project_id": project.json()["id"]}
                client.post("/api/tasks", json=body, headers=headers)
        yield running


def audit_page(browser: Browser, base_url: str, *, width: int = 1280) -> Iterator[Page]:
    # axe is injected as a script: the page's CSP (no inline script, Trusted Types) is bypassed
    # for the audit only; the audited markup is the page's own.
    context = browser.new_context(
        base_url=base_url, viewport={"width": width, "height": 860}, bypass_csp=True
    )
    context.set_default_timeout(DEFAULT_WAIT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


def violations(page: Page) -> list[str]:
    page.add_script_tag(path=str(AXE))
    found = page.evaluate(
        """async () => {
            const result = await axe.run(document, { resultTypes: ["violations"] });
            return result.violations
                .filter((v) => v.impact === "serious" || v.impact === "critical")
                .map((v) => ({ id: v.id, impact: v.impact,
                               nodes: v.nodes.slice(0, 3).map((n) => n.target.join(" ")) }));
        }"""
    )
    return [json.dumps(v) for v in found]


def settled(page: Page, path: str) -> None:
    """The page has drawn its content (the shell's main is filled by the page's script)."""
    page.goto(path)
    expect(page.locator("main#main > *").first).to_be_visible()
    page.wait_for_load_state("networkidle")


def test_no_page_has_a_serious_or_critical_axe_violation(
    service: WebService, browser: Browser
) -> None:
    found: dict[str, list[str]] = {}
    for page in audit_page(browser, service.base_url):
        for path in PUBLIC_PAGES:
            settled(page, path)
            found[path] = violations(page)
        sign_in(page, *ADMIN)
        page.locator("#chat-input").fill("add a task to water the plants")
        page.locator("#chat-input").press("Enter")
        expect(page.locator(".tool-card .badge-done")).to_be_visible()
        found["/chat (a turn)"] = violations(page)
        for path in USER_PAGES + ADMIN_PAGES:
            settled(page, path)
            found[path] = violations(page)
    failing = {path: v for path, v in found.items() if v}
    assert not failing, json.dumps(failing, indent=1)


def test_at_a_phones_width_the_header_is_a_menu_and_nothing_overflows(
    service: WebService, browser: Browser
) -> None:
    for page in audit_page(browser, service.base_url, width=390):
        sign_in(page, *ADMIN)
        nav = page.get_by_role("navigation", name="Main")
        expect(nav).to_be_hidden()
        menu = page.get_by_role("button", name="Menu")
        menu.click()
        expect(menu).to_have_attribute("aria-expanded", "true")
        expect(page.get_by_role("button", name="Sign out")).to_be_in_viewport()
        screenshot(page, "30-phone-menu-open")
        nav.get_by_role("link", name="Tasks").click()
        expect(nav).to_be_hidden()  # a choice closes the menu
        for path in ["/chat", "/tasks", "/documents", "/conversations", "/account", "/admin/users"]:
            settled(page, path)
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 390, f"{path} is {width} px wide at 390"
        settled(page, "/tasks")
        screenshot(page, "31-phone-tasks")


def test_at_a_laptops_width_the_header_is_one_line(service: WebService, browser: Browser) -> None:
    """An admin's eight links, the approvals badge, the name and Sign out fit in 1280 px."""
    for page in audit_page(browser, service.base_url, width=1280):
        sign_in(page, *ADMIN)
        settled(page, "/account")
        tops = {
            round(box["y"])
            for item in page.locator("#nav a, #account > *").all()
            if item.is_visible() and (box := item.bounding_box())
        }
        screenshot(page, "32-header-1280")
        assert max(tops) - min(tops) < 12, f"the header wraps at 1280 px: rows at {sorted(tops)}"


def test_the_keyboard_skips_to_the_content(service: WebService, browser: Browser) -> None:
    for page in audit_page(browser, service.base_url):
        settled(page, "/register")
        page.keyboard.press("Tab")
        skip = page.get_by_role("link", name="Skip to content")
        expect(skip).to_be_focused()
        expect(skip).to_be_in_viewport()
        page.keyboard.press("Enter")
        expect(page.locator("main#main")).to_be_focused()
        page.keyboard.press("Tab")
        expect(page.get_by_label("Name")).to_be_focused()
