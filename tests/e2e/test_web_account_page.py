"""The account page in a real Chromium against `agent-service serve`: a person renames themself,
changes their password (the current one asked for, this tab signed in again) and signs out
everywhere, which ends the sign-in of another browser too."""

from __future__ import annotations

from collections.abc import Iterator

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


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebService]:
    with web_service(tmp_path_factory.mktemp("web-account-page"), {}) as running:
        yield running


def test_name_password_and_sign_out_everywhere(service: WebService, browser: Browser) -> None:
    email, old, new = "owner@example.com", "old-password-1", "new-password-2"
    with (
        signed_up(service.base_url, email, old) as api,
        new_page(browser, service.base_url) as page,
        new_page(browser, service.base_url) as other,
    ):
        sign_in(page, email, old)
        page.get_by_role("link", name=email).click()  # the header's name leads to the account
        expect(page.get_by_role("heading", name="Your account")).to_be_visible()

        page.get_by_label("Name", exact=True).fill("Ada Lovelace")
        page.get_by_role("button", name="Save name").click()
        expect(page.get_by_text("Your name is saved.")).to_be_visible()
        expect(page.get_by_role("link", name="Ada Lovelace")).to_be_visible()  # the header
        assert api.get("/api/profile").json()["name"] == "Ada Lovelace"

        page.get_by_label("Current password").fill("not-my-password")
        page.get_by_label("New password").fill(new)
        page.get_by_role("button", name="Change password").click()
        expect(page.get_by_text("is not your current password")).to_be_visible()
        expect(page).to_have_url(
            f"{service.base_url}/account"
        )  # still signed in: the token is fine
        page.get_by_label("Current password").fill(old)
        page.get_by_label("New password").fill(new)
        page.get_by_role("button", name="Change password").click()
        expect(page.get_by_text("Your password is changed.")).to_be_visible()
        assert api.get("/api/profile").status_code == 401  # the older tokens ended
        page.get_by_role("link", name="Tasks").click()  # this tab goes on, signed in again
        expect(page.get_by_role("heading", name="Tasks")).to_be_visible()
        expect(page.get_by_role("button", name="Sign out")).to_be_visible()

        sign_in(other, email, new)  # a second browser, with the new password
        page.get_by_role("link", name="Ada Lovelace").click()
        screenshot(page, "25-account-page")
        page.get_by_role("button", name="Sign out everywhere").click()
        expect(page).to_have_url(f"{service.base_url}/login")
        expect(page.get_by_text("You are signed out everywhere")).to_be_visible()

        other.get_by_role("link", name="Tasks").click()  # its token was ended too
        expect(other).to_have_url(f"{service.base_url}/login")
        other.goto("/tasks")  # and its refresh cookie: a reload does not sign it back in
        expect(other).to_have_url(f"{service.base_url}/login")
