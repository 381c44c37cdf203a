"""A newcomer's first hour, in a real Chromium, against `agent-service serve --llm demo` as a process:
register, verify from the mailed link, sign in, have the assistant add a task (streamed, tool call
shown), find it on the tasks page, upload a PDF, watch it get ready, ask it and get a citation.
Screenshots of each page go to var/screenshots/."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser import (
    BROWSER_MODULE,
    WebService,
    mailed_link,
    new_page,
    screenshot,
    web_service,
)

pytestmark = BROWSER_MODULE

PDF = Path(__file__).resolve().parents[1] / "fixtures" / "pdf" / "pdflatex-4-pages.pdf"
EMAIL = "newcomer@example.com"
PASSWORD = "newcomer-password-1"


@pytest.fixture
def service(tmp_path: Path) -> Iterator[WebService]:
    with web_service(
        tmp_path, {"REQUIRE_EMAIL_VERIFICATION": "true"}, ("--llm", "demo")
    ) as running:
        yield running


def sign_in(page: Page) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def register_and_verify(page: Page, service: WebService) -> None:
    page.goto("/")
    expect(page).to_have_url(f"{service.base_url}/login")
    page.get_by_role("link", name="Create an account").first.click()
    page.get_by_label("Name").fill("Ada")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    screenshot(page, "01-register")
    page.get_by_role("button", name="Create account").click()
    expect(page.locator(".flash-success")).to_contain_text("verification link")

    sign_in(page)  # not yet verified: refused, with the reason and a way to get a new link
    expect(page.locator(".flash-error")).to_be_visible()
    expect(page).to_have_url(f"{service.base_url}/login")
    first_link = mailed_link(service.mail_dir, EMAIL, "/verify-email")
    page.get_by_role("button", name="Send the verification link again").click()
    expect(page.locator(".flash-success")).to_contain_text("new verification link")
    screenshot(page, "01b-resend-verification")
    link = first_link
    deadline = time.monotonic() + 20
    while link == first_link and time.monotonic() < deadline:
        link = mailed_link(service.mail_dir, EMAIL, "/verify-email")
    assert link != first_link, "no second verification mail"

    assert link.startswith(f"{service.base_url}/verify-email?token=")
    page.goto(link)
    expect(page.locator(".success-text")).to_have_text(
        "Your email is verified. You can sign in now."
    )
    expect(page).to_have_url(f"{service.base_url}/verify-email")  # the token left the address bar
    screenshot(page, "02-verify-email")
    page.goto(link)  # used again (a second click, a mail scanner): it says so, and offers sign-in
    expect(page.locator(".success-text")).to_contain_text("already verified")
    expect(page.locator(".success-text").get_by_role("link", name="Sign in")).to_be_visible()


def chat_adds_a_task(page: Page, service: WebService) -> None:
    sign_in(page)
    expect(page).to_have_url(f"{service.base_url}/chat")
    expect(page.locator("#agent-type")).to_have_value("assistant")
    expect(page.locator("#demo-banner")).to_contain_text("Offline demo")
    page.locator("#chat-input").fill("Add a high-priority task to write the release notes")
    with page.expect_response("**/api/agent/chat/stream") as stream:
        page.locator("#chat-input").press("Enter")
    assert stream.value.headers["content-type"].startswith("text/event-stream")

    card = page.locator(".tool-card")
    expect(card.locator(".tool-words")).to_have_text("Created task Write the release notes")
    expect(card.locator(".badge-done")).to_be_visible()
    expect(card.locator(".tool-arguments")).to_be_hidden()  # one line; the JSON behind a toggle
    card.locator("summary").click()
    expect(card.locator(".tool-name")).to_have_text("create_task")
    expect(card.locator(".tool-arguments")).to_contain_text('"title": "Write the release notes"')
    expect(card.locator(".tool-output")).to_contain_text('"priority": "high"')
    answer = page.locator(".message-assistant").last
    expect(answer).to_contain_text("Write the release notes")
    expect(answer.locator("em")).to_have_text("I'm the offline demo model")  # Markdown, rendered
    expect(page.locator(".turn-note")).to_contain_text("tokens")  # message.completed arrived
    # Word by word at a reader's pace: the page appends several deltas, not one.
    assert int(answer.get_attribute("data-deltas") or 0) >= 2, "the answer came in one piece"
    expect(page.locator(".conversation.is-current")).to_contain_text("Add a high-priority task")
    screenshot(page, "03-chat")

    page.get_by_role("link", name="Tasks").click()
    task = page.locator(".task", has_text="Write the release notes")
    expect(task.locator(".badge-high")).to_have_text("high")
    screenshot(page, "04-tasks")
    task.get_by_role("button", name="Complete").click()
    expect(page.locator(".task.is-done")).to_contain_text("Write the release notes")


def document_answers_with_a_citation(page: Page) -> None:
    page.get_by_role("link", name="Documents").click()
    page.locator("#file-input").set_input_files(PDF)
    page.get_by_role("button", name="Upload").click()
    document = page.locator(".document", has_text=PDF.name)
    expect(document).to_have_attribute("data-status", "ready", timeout=30_000)
    expect(document).to_contain_text("4/4 pages")
    assert page.locator(".upload-progress").evaluate("bar => bar.value") == 1

    document.get_by_role("button", name="Ask").click()
    page.locator("#question").fill("Is there a difference between this text and some nonsense?")
    page.locator(".ask-form").get_by_role("button", name="Ask").click()
    citation = page.locator(".citation").first
    expect(citation.locator(".citation-page")).to_have_text(re.compile(r"^Page [1-4]$"))
    expect(citation.locator("q")).to_contain_text(re.compile(r"\w{4,}"))
    expect(page.locator(".answer-text")).to_contain_text(re.compile(r"\[\d\]"))
    screenshot(page, "05-documents")

    cited_page = citation.locator(".citation-page").inner_text().removeprefix("Page ")
    citation.get_by_role("link").click()  # the citation opens the page's text, passage marked
    expect(page.get_by_role("heading", name=PDF.name)).to_be_visible()
    expect(page.locator(".page-head")).to_contain_text(f"Page {cited_page} of 4")
    expect(page.locator("mark.is-cited")).to_be_focused()
    expect(page.locator("mark.is-cited")).to_contain_text(re.compile(r"\w{4,}"))
    screenshot(page, "06-document-page-cited")


def test_newcomer_path(service: WebService, browser: Browser) -> None:
    with new_page(browser, service.base_url) as page:
        register_and_verify(page, service)
        chat_adds_a_task(page, service)
        document_answers_with_a_citation(page)

        page.get_by_role("link", name="Conversations").click()
        expect(page.locator("#conversation-list .row")).to_have_count(1)
        screenshot(page, "06-conversations")
        page.get_by_role("link", name="Open").click()  # the history, tool call and result included
        expect(page.locator(".message-user")).to_have_text(re.compile("Add a high-priority task"))
        expect(page.locator(".tool-card .tool-name")).to_have_text("create_task")
        expect(page.locator(".tool-card .badge-done")).to_have_count(1)
        expect(page.locator(".message-assistant")).to_contain_text("Write the release notes")
        page.get_by_role("link", name="Projects").click()
        page.get_by_label("Name").fill("Launch")
        page.get_by_label("First tasks").fill("Write the announcement\nBook the room")
        page.get_by_role("button", name="Create project").click()
        page.locator(".project", has_text="Launch").get_by_role("button", name="Tasks").click()
        expect(page.locator(".detail li")).to_have_count(2)
        screenshot(page, "07-projects")
