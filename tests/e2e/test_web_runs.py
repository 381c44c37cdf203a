"""The chat page drives runs, in a real Chromium against `agent-service serve` as a process and the
kit's fake LLM served on 127.0.0.1: a tool that needs approval asks (approve runs it, deny answers
the model with the reason), and Stop cancels a run that is still streaming."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from agent_testkit import FakeLLMServer
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

PASSWORD = "runs-password-1"


@pytest.fixture(scope="module")
def llm() -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as server:
        yield server


@pytest.fixture
def scripted(llm: FakeLLMServer) -> Iterator[FakeLLMServer]:
    """The module's fake, emptied before the test and checked after: every scripted answer used."""
    llm.reset()
    yield llm
    assert llm.problems() == []


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory, llm: FakeLLMServer) -> Iterator[WebService]:
    env = {"LLM_BASE_URL": llm.base_url, "LLM_API_KEY": "e2e-llm-key", "LLM_MODEL": "fake-model"}
    with web_service(tmp_path_factory.mktemp("web-runs"), env) as running:
        yield running


def say(page: Page, message: str) -> None:
    page.locator("#chat-input").fill(message)
    page.get_by_role("button", name="Send").click()


def test_approving_a_delete_runs_it(
    service: WebService, scripted: FakeLLMServer, browser: Browser
) -> None:
    with signed_up(service.base_url, "approve@example.com", PASSWORD) as api:
        task = api.post("/api/tasks", json={"title": "Old chores"}).json()
        scripted.script(
            scripted.tool_call("delete_task", task_id=task["id"]),
            scripted.reply("Deleted 'Old chores'."),
        )
        with new_page(browser, service.base_url) as page:
            sign_in(page, "approve@example.com", PASSWORD)
            say(page, "Delete the old chores task")
            card = page.locator(".approval-card")
            expect(card.locator(".approval-words")).to_have_text("Delete task Old chores?")
            expect(card.locator(".approval-words em")).to_have_text("Old chores")
            expect(page.locator(".tool-card .tool-words")).to_have_text("delete_task waits for you")
            expect(page.locator("#send")).to_be_disabled()  # the run waits for the decision
            badge = page.locator("#approvals")
            expect(badge).to_have_accessible_name("1 approval waiting")
            screenshot(page, "12-chat-approval")

            # Leave and come back, then reload: the question is still asked, with its buttons.
            page.get_by_role("link", name="Tasks").click()
            expect(page.get_by_role("heading", name="Tasks")).to_be_visible()
            expect(badge).to_be_visible()
            badge.click()
            expect(card.get_by_role("button", name="Approve")).to_be_visible()
            page.reload()
            expect(card.locator(".approval-words")).to_have_text("Delete task Old chores?")
            screenshot(page, "12b-chat-approval-after-reload")
            card.get_by_role("button", name="Approve").click()

            expect(page.locator("#chat-input")).to_be_focused()
            expect(page.locator(".tool-card .badge-done")).to_have_text("done")
            expect(page.locator(".tool-card .tool-words")).to_have_text("Deleted task Old chores")
            expect(page.locator(".tool-card")).not_to_have_attribute("open", "")
            expect(page.locator(".message-assistant").last).to_have_text(
                re.compile("Deleted 'Old chores'.")
            )
            expect(page.locator("#send")).to_be_enabled()
            expect(badge).to_be_hidden()
        assert api.get(f"/api/tasks/{task['id']}").status_code == 404
    assert scripted.calls[1].tool_result("delete_task")


def test_denying_a_delete_tells_the_model_why(
    service: WebService, scripted: FakeLLMServer, browser: Browser
) -> None:
    with signed_up(service.base_url, "deny@example.com", PASSWORD) as api:
        task = api.post("/api/tasks", json={"title": "Keep me"}).json()
        scripted.script(
            scripted.tool_call("delete_task", task_id=task["id"]),
            scripted.reply("All right, I kept it."),
        )
        with new_page(browser, service.base_url) as page:
            sign_in(page, "deny@example.com", PASSWORD)
            say(page, "Delete the keep me task")
            card = page.locator(".approval-card")
            card.locator(".reason").fill("I still need it")
            card.get_by_role("button", name="Deny").click()
            expect(page.locator(".tool-card.is-declined .tool-words")).to_have_text("You declined.")
            expect(page.get_by_text("do not retry")).to_be_hidden()  # the model's words, not yours
            page.locator(".tool-card summary").click()
            expect(page.locator(".tool-card .tool-output")).to_contain_text("I still need it")
            expect(page.locator(".message-assistant").last).to_contain_text("I kept it")
        assert api.get(f"/api/tasks/{task['id']}").status_code == 200
    result = scripted.calls[1].tool_result("delete_task")
    assert "denied" in str(result) and "I still need it" in str(result)


def test_stop_cancels_a_streaming_run(
    service: WebService, scripted: FakeLLMServer, browser: Browser
) -> None:
    scripted.script(scripted.reply("word " * 400, chunk_delay=0.05))
    with signed_up(service.base_url, "stop@example.com", PASSWORD) as api:
        with new_page(browser, service.base_url) as page:
            sign_in(page, "stop@example.com", PASSWORD)
            say(page, "Tell me a long story")
            stop = page.get_by_role("button", name="Stop")
            expect(page.locator(".message-assistant .message-text")).to_contain_text("word word")
            stop.click()
            expect(page.locator(".turn-note.stopped")).to_contain_text("Stopped")
            expect(stop).to_be_hidden()
            expect(page.locator("#send")).to_be_enabled()
            screenshot(page, "13-chat-stopped")
            conversation_id = page.evaluate(
                "new URLSearchParams(location.search).get('conversation')"
            )
        [run] = api.get(f"/api/conversations/{conversation_id}/runs").json()
        assert run["status"] == "cancelled"


def test_answers_render_markdown_safely_and_can_be_regenerated_or_edited(
    service: WebService, scripted: FakeLLMServer, browser: Browser
) -> None:
    markdown = (
        "Here is **the plan**:\n\n- design\n- build\n\n`code` and [a link](https://example.com)"
        ' <img src=x onerror="document.title=1"><script>document.title=2</script>'
    )
    scripted.script(
        scripted.reply(markdown, chunk_delay=0.01),
        scripted.reply("A second try."),
        scripted.reply("About tea, then."),
    )
    with signed_up(service.base_url, "markdown@example.com", PASSWORD) as api:
        with new_page(browser, service.base_url) as page:
            sign_in(page, "markdown@example.com", PASSWORD)
            say(page, "Plan the launch")
            answer = page.locator(".message-assistant .message-text").last
            expect(answer.locator("strong")).to_have_text("the plan")
            expect(answer.locator("li")).to_have_text(["design", "build"])
            expect(answer.locator("code")).to_have_text("code")
            link = answer.get_by_role("link", name="a link")
            expect(link).to_have_attribute("rel", "noopener noreferrer nofollow")
            expect(answer.locator("img, script")).to_have_count(0)
            assert page.title() == "Agent service"  # neither handler nor script ran
            screenshot(page, "14-chat-markdown")

            page.get_by_role("button", name="Regenerate").click()
            expect(page.locator(".message-assistant")).to_have_count(1)
            expect(page.locator(".message-assistant")).to_contain_text("A second try.")
            expect(page.locator(".message-user")).to_have_count(1)

            page.get_by_role("button", name="Edit").click()
            expect(page.locator("#chat-input")).to_have_value("Plan the launch")
            expect(page.locator("#chat-input")).to_be_focused()
            page.locator("#chat-input").fill("Tell me about tea")
            page.get_by_role("button", name="Send").click()
            expect(page.locator(".message-assistant")).to_have_text(
                [re.compile("About tea, then.")]
            )
            expect(page.locator(".message-user .message-text")).to_have_text(["Tell me about tea"])
            conversation_id = page.evaluate(
                "new URLSearchParams(location.search).get('conversation')"
            )
        history = api.get(f"/api/conversations/{conversation_id}/history").json()["messages"]
        assert [m["content"] for m in history] == ["Tell me about tea", "About tea, then."]
