"""Pages a person uses every day, in a real Chromium against `agent-service serve` as a process:
tasks edited in place, dead ends that say what to do, a phone-sized screen and a keyboard."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.browser import (
    BROWSER_MODULE,
    WebService,
    new_page,
    screenshot,
    sign_in,
    signed_up,
    web_service,
)

pytestmark = BROWSER_MODULE

PASSWORD = "everyday-password-1"


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebService]:
    with web_service(tmp_path_factory.mktemp("web-everyday"), {}, ("--llm", "demo")) as running:
        yield running


def test_a_task_is_edited_in_place(service: WebService, browser: Browser) -> None:
    with signed_up(service.base_url, "tasks@example.com", PASSWORD) as api:
        project = api.post("/api/projects", json={"name": "Launch"}).json()
        task = api.post("/api/tasks", json={"title": "Design"}).json()
        with new_page(browser, service.base_url) as page:
            sign_in(page, "tasks@example.com", PASSWORD)
            page.get_by_role("link", name="Tasks", exact=True).click()
            page.get_by_role("button", name="Edit 'Design'").click()
            form = page.get_by_role("form", name="Edit 'Design'")
            expect(form.get_by_label("Title")).to_be_focused()
            form.get_by_label("Title").fill("Design mockups")
            form.get_by_label("Priority").select_option("high")
            form.get_by_label("Due").fill("2027-04-15")
            form.get_by_label("Project").select_option(label="Launch")
            screenshot(page, "20-task-edit-in-place")
            form.get_by_role("button", name="Save").click()
            row = page.locator(".task", has_text="Design mockups")
            expect(row.locator(".badge-high")).to_have_text("high")
            expect(row).to_contain_text("Project: Launch")
            expect(row.locator(".due")).to_contain_text("2027")

            page.get_by_role("button", name="Edit 'Design mockups'").click()
            form = page.get_by_role("form", name="Edit 'Design mockups'")
            form.get_by_label("Title").fill("Not this")
            form.get_by_label("Title").press("Escape")  # cancels, nothing sent
            expect(page.locator(".task", has_text="Design mockups")).to_be_visible()
        saved = api.get(f"/api/tasks/{task['id']}").json()
        assert (saved["title"], saved["priority"]) == ("Design mockups", "high")
        assert (saved["due_date"], saved["project_id"]) == ("2027-04-15", project["id"])


def test_a_page_that_does_not_exist_says_so_and_the_api_stays_json(
    service: WebService, browser: Browser
) -> None:
    r = httpx.get(f"{service.base_url}/no-such-page", headers={"Accept": "text/html"})
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
    assert "content-security-policy" in r.headers
    r = httpx.get(f"{service.base_url}/api/no-such-thing", headers={"Accept": "text/html"})
    assert r.status_code == 404 and r.json()["error"] == "not_found"
    with new_page(browser, service.base_url) as page:
        response = page.goto("/no-such-page")
        assert response is not None and response.status == 404
        expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
        expect(page.locator(".not-found code")).to_have_text("/no-such-page")
        screenshot(page, "21-page-not-found")
        page.locator(".not-found").get_by_role("link", name="Sign in").click()
        expect(page).to_have_url(f"{service.base_url}/login")


def test_assets_and_probes_stay_out_of_the_log(service: WebService, browser: Browser) -> None:
    with new_page(browser, service.base_url) as page:
        page.goto("/login")
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert httpx.get(f"{service.base_url}/healthz").status_code == 200
    log = (service.mail_dir.parents[1] / "service.log").read_text()
    assert "GET /login 200" in log  # pages and the API are still logged
    assert "GET /static/" not in log and "GET /healthz" not in log
