"""The web app's security rules, in a real Chromium against `agent-service serve` as a process:
data shows as text (no markup runs), the Content-Security-Policy is enforced, and the bearer token
lives in sessionStorage only (never in a URL or a script-readable cookie)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Dialog, expect
from playwright.sync_api import Error as PlaywrightError

from tests.browser import BROWSER_MODULE, new_page, screenshot, sign_in, web_service

pytestmark = BROWSER_MODULE

PASSWORD = "browser-password-1"
SCRIPT_TITLE = "<script>alert(1)</script>"
IMG_TITLE = '<img src=x onerror="alert(2)">'


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One service for the module: each test signs up its own user."""
    with web_service(tmp_path_factory.mktemp("web-security")) as running:
        yield running.base_url


def register(base_url: str, email: str) -> dict[str, str]:
    with httpx.Client(base_url=base_url, timeout=10) as client:
        r = client.post("/api/auth/register", json={"email": email, "password": PASSWORD})
        assert r.status_code == 201, r.text
        r = client.post("/api/auth/login", json={"email": email, "password": PASSWORD})
        return {"Authorization": f"Bearer {r.json()['access_token']}"}


def test_markup_in_data_shows_as_text_and_never_runs(base_url: str, browser: Browser) -> None:
    headers = register(base_url, "xss@example.com")
    with httpx.Client(base_url=base_url, headers=headers, timeout=10) as client:
        project = client.post("/api/projects", json={"name": IMG_TITLE}).json()
        r = client.post("/api/tasks", json={"title": SCRIPT_TITLE, "project_id": project["id"]})
        assert r.status_code == 201, r.text
        r = client.post("/api/conversations", json={"agent_type": "assistant", "title": IMG_TITLE})
        assert r.status_code == 201, r.text

    with new_page(browser, base_url) as page:
        dialogs: list[str] = []

        def dismiss(dialog: Dialog) -> None:
            dialogs.append(dialog.message)
            dialog.dismiss()

        page.on("dialog", dismiss)
        sign_in(page, "xss@example.com", PASSWORD)
        expect(page.locator(".conversation")).to_contain_text(IMG_TITLE)

        page.get_by_role("link", name="Tasks").click()
        expect(page.locator(".task-title")).to_have_text(SCRIPT_TITLE)
        expect(page.locator(".task")).to_contain_text(f"Project: {IMG_TITLE}")
        screenshot(page, "11-markup-as-text")
        page.get_by_role("link", name="Projects").click()
        expect(page.locator(".project .row-title")).to_have_text(IMG_TITLE)

        assert page.locator("#main script, #main img").count() == 0
        assert dialogs == []


def test_the_content_security_policy_is_enforced(base_url: str, browser: Browser) -> None:
    register(base_url, "csp@example.com")
    with new_page(browser, base_url) as page:
        response = page.goto("/login")
        assert response is not None
        assert "default-src 'self'" in response.headers["content-security-policy"]
        page.evaluate(
            """() => {
              window.violations = [];
              document.addEventListener("securitypolicyviolation",
                (e) => window.violations.push(e.effectiveDirective));
            }"""
        )
        outcome = page.evaluate(
            """async () => {
              const found = {};
              const handler = document.createElement("img");
              try {
                handler.setAttribute("onerror", "window.handlerRan = true");
                found.handler = "set";
              } catch (error) {
                found.handler = error.name;
              }
              handler.setAttribute("src", "data:,not-an-image");
              document.body.append(handler);
              try {
                document.body.innerHTML = "<b>markup</b>";
                found.innerHTML = "assigned";
              } catch (error) {
                found.innerHTML = error.name;
              }
              try {
                await fetch("http://127.0.0.2:9/elsewhere");
                found.fetch = "sent";
              } catch (error) {
                found.fetch = error.name;
              }
              const image = document.createElement("img");
              image.src = "http://127.0.0.2:9/tracker.png";
              document.body.append(image);
              const frame = document.createElement("iframe");
              frame.src = "/login";
              document.body.append(frame);
              await new Promise((resolve) => setTimeout(resolve, 300));
              found.handlerRan = Boolean(window.handlerRan);
              return found;
            }"""
        )
        assert outcome == {
            "handler": "TypeError",  # an inline handler is script: Trusted Types refuse the string
            "innerHTML": "TypeError",
            "fetch": "TypeError",  # connect-src 'self'
            "handlerRan": False,
        }
        violations = set(page.evaluate("window.violations"))
        assert {"require-trusted-types-for", "connect-src", "img-src"} <= violations, violations
        with pytest.raises(PlaywrightError, match="TrustedScript"):
            page.add_script_tag(content="window.inlineRan = true")  # an injected <script>
        assert page.evaluate("window.inlineRan") is None
        [framed] = page.main_frame.child_frames  # frame-ancestors 'none': not even our own origin
        assert framed.url.startswith("chrome-error://"), framed.url


def test_the_token_stays_in_session_storage(base_url: str, browser: Browser) -> None:
    register(base_url, "token@example.com")
    with new_page(browser, base_url) as page:
        urls: list[str] = []
        page.on("request", lambda request: urls.append(request.url))
        sign_in(page, "token@example.com", PASSWORD)
        for name in ("Tasks", "Conversations", "Documents", "Chat"):
            page.get_by_role("link", name=name).click()
            expect(page.get_by_role("link", name=name)).to_have_attribute("aria-current", "page")

        token = page.evaluate("sessionStorage.getItem('agent-service.token')")
        assert token and token.count(".") == 2
        assert page.evaluate("document.cookie") == ""
        # the one cookie: the HttpOnly refresh credential, sent to /api/auth only (issue 24)
        cookies = page.context.cookies()
        assert [(c["name"], c["path"], c["httpOnly"]) for c in cookies] == [
            ("agent_service_refresh", "/api/auth", True)
        ]
        assert token not in cookies[0]["value"]
        assert page.evaluate("Object.keys(localStorage)") == []
        assert urls and not [url for url in urls if token in url]

        page.get_by_role("button", name="Sign out").click()
        expect(page).to_have_url(f"{base_url}/login")
        assert page.evaluate("sessionStorage.getItem('agent-service.token')") is None
        assert page.context.cookies() == []  # Sign out cleared the refresh cookie
        page.goto("/tasks")  # a page that needs a session sends a signed-out visitor to sign in
        expect(page).to_have_url(f"{base_url}/login")


def wrong_logins_until_the_wait_is(base_url: str, email: str, wait_s: int) -> None:
    """Five wrong passwords (LOGIN_MAX_FAILURES), then one more after each wait, so the next
    wait is `wait_s` (1 s, 2, 4...): a browser then has that long to see it."""
    wrong = {"email": email, "password": "wrong-password"}
    with httpx.Client(base_url=base_url, timeout=10) as client:
        for _ in range(5):
            assert client.post("/api/auth/login", json=wrong).status_code == 401
        wait = 1
        while wait < wait_s:
            time.sleep(wait + 0.1)
            assert client.post("/api/auth/login", json=wrong).status_code == 401
            wait *= 2
        r = client.post("/api/auth/login", json=wrong)
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= wait_s - 1, r.text


def test_the_sign_in_page_shows_the_login_wait(base_url: str, browser: Browser) -> None:
    """Past LOGIN_MAX_FAILURES the service answers 429 with the wait, even for the right
    password, and the sign-in page says how long."""
    register(base_url, "wait@example.com")
    wrong_logins_until_the_wait_is(base_url, "wait@example.com", 8)
    with new_page(browser, base_url) as page:
        page.goto("/login")
        page.get_by_label("Email").fill("wait@example.com")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        flash = page.locator("#flash.flash-error")
        expect(flash).to_contain_text(
            re.compile(r"Too many failed logins; try again in \d+ seconds?")
        )
        screenshot(page, "12-login-wait")
        expect(page.locator("#chat-input")).to_have_count(0)  # still signed out
