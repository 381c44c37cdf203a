"""The Assistants page in a real Chromium against `agent-service serve`: an assistant made from the
form with a client-side function, its versions shown, and a run of it whose function call asks
the person for the output, then completes."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, expect

from agent_testkit import FakeLLMServer
from tests.browser import BROWSER_MODULE, WebService, new_page, web_service

pytestmark = BROWSER_MODULE

EMAIL, PASSWORD = "assistants@example.com", "assistants-password-1"


@pytest.fixture(scope="module")
def llm() -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as server:
        yield server


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory, llm: FakeLLMServer) -> Iterator[WebService]:
    env = {"LLM_BASE_URL": llm.base_url, "LLM_API_KEY": "e2e-llm-key", "LLM_MODEL": "fake-model"}
    with web_service(tmp_path_factory.mktemp("web-assistants"), env) as running:
        yield running


def test_make_an_assistant_and_answer_its_client_tool(
    service: WebService, llm: FakeLLMServer, browser: Browser
) -> None:
    with httpx.Client(base_url=service.base_url, timeout=10) as client:
        credentials = {"email": EMAIL, "password": PASSWORD}
        assert client.post("/api/auth/register", json=credentials).status_code == 201
    llm.script(
        llm.tool_call("get_weather", city="Oslo"),
        llm.reply("It snows in Oslo."),
    )
    with new_page(browser, service.base_url) as page:
        page.goto("/login")
        page.get_by_label("Email").fill(EMAIL)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("link", name="Assistants", exact=True).click()

        form = page.get_by_role("form", name="New assistant")
        form.get_by_label("Name", exact=True).first.fill("Weather")
        form.get_by_label("Instructions").fill("Use get_weather.")
        function = form.locator("fieldset", has_text="Client-side function")
        function.get_by_label("Name").fill("get_weather")
        function.get_by_label("Parameters (JSON schema)").fill(
            json.dumps({"type": "object", "properties": {"city": {"type": "string"}}})
        )
        form.get_by_role("button", name="Create assistant").click()
        row = page.locator("article.assistant", has_text="Weather")
        expect(row).to_contain_text("client function get_weather")
        row.get_by_role("button", name="Versions").click()
        expect(page.locator("#assistant-versions")).to_contain_text("Version 1")

        row.get_by_role("button", name="Run").click()
        run_form = page.get_by_role("form", name="Run an assistant")
        run_form.get_by_label("Message").fill("Weather in Oslo?")
        run_form.get_by_role("button", name="Run").click()
        prompt = page.get_by_role("form", name="Tool output")
        expect(prompt).to_contain_text("get_weather")
        prompt.locator("textarea").fill('{"sky": "snow"}')
        prompt.get_by_role("button", name="Send output").click()
        expect(page.locator("#run-transcript")).to_contain_text("It snows in Oslo.")
    assert json.loads(llm.calls[1].request["messages"][-1]["content"]) == {"sky": "snow"}
