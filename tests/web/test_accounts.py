"""Accounts on the page (Chromium at 1280 and 360 px): sign-up verified by a link from a local SMTP
server (aiosmtpd), and a session that survives a new tab and a reload through the HttpOnly
refresh cookie, until sign-out revokes it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.support.smtp import Mailbox, link_in, smtp_server
from tests.support.stack import Stack, running_stack, stack_settings
from tests.web.conftest import PASSWORD, local_account
from tests.web.test_inspect import SIZES
from tests.web.test_page import browser_page, sign_in

NEW_PASSWORD = "a lantern in the attic"


@pytest.fixture(scope="module")
def mailbox() -> Iterator[Mailbox]:
    with smtp_server() as box:
        yield box


@pytest.fixture(scope="module")
def signup_stack(tmp_path_factory: pytest.TempPathFactory, mailbox: Mailbox) -> Iterator[Stack]:
    values = stack_settings(
        "embedded",
        tmp_path_factory.mktemp("web-signup"),
        signup_enabled=True,
        smtp_url=mailbox.url,
        signup_credits=4,
    )
    with running_stack(values, "embedded", worker=False) as stack:
        yield stack


@SIZES
def test_sign_up_with_the_emailed_link(
    signup_stack: Stack, mailbox: Mailbox, browser: Any, size: dict[str, Any]
) -> None:
    email = f"stranger-{uuid.uuid4().hex[:8]}@example.com"
    with browser_page(browser, **size) as page:
        page.goto(signup_stack.base_url + "/")
        # Wait for the page to know the server's sign-up setting: until then the card is hidden,
        # and a hidden element's innerText is its whole textContent.
        page.wait_for_selector("#signin-form:not([hidden])")
        assert page.locator("#signup-closed").is_hidden()
        assert page.locator("#signup-offer").is_visible()
        page.get_by_role("button", name="Create an account").click()
        page.get_by_label("Your email").fill(email)
        page.get_by_label("Choose a password").fill(NEW_PASSWORD)
        page.locator("#signup-btn").click()
        expect(page.locator("#signup-done")).to_contain_text(f"We sent a link to {email}")
        assert page.evaluate("document.documentElement.scrollWidth") <= size["viewport"]["width"]

        link = link_in(mailbox.wait_for(email))
        page.goto(link)
        # The link signs the new account in: the page lands on the (empty) library.
        page.wait_for_selector("#view-library:not([hidden])")
        expect(page.locator("#toast")).to_contain_text("confirmed")
        expect(page.locator("#who")).to_have_text(email)
        expect(page.locator("#credits-count")).to_have_text("4")
        assert "verified" not in page.url


def test_sign_up_is_not_offered_when_disabled(web_stack: Stack, browser: Any) -> None:
    with browser_page(browser) as page:
        page.goto(web_stack.base_url + "/")
        page.wait_for_selector("#signin-form:not([hidden])")
        assert page.locator("#signup-offer").is_hidden()
        assert page.locator("#signup-closed").is_visible()


@SIZES
def test_a_new_tab_and_a_reload_stay_signed_in_until_sign_out(
    web_stack: Stack, browser: Any, size: dict[str, Any]
) -> None:
    email = f"tabs-{size['viewport']['width']}@example.com"
    local_account(web_stack, email)
    context = browser.new_context(**size)
    try:
        first = context.new_page()
        sign_in(first, web_stack, email)
        # A new tab: signed in without typing anything (the refresh cookie).
        second = context.new_page()
        second.goto(web_stack.base_url + "/")
        second.wait_for_selector("#view-library:not([hidden])")
        second.wait_for_function("() => window.__rekindle.live === 'live'")
        # Its own token, from the refresh cookie (two tokens minted in the same second for one
        # session are byte-identical JWTs, so only its presence is checked).
        assert second.evaluate("window.__rekindle.token()")
        # No token in storage a script could read, and the cookie is HttpOnly and strict.
        assert second.evaluate("sessionStorage.length + localStorage.length") == 0
        assert second.evaluate("document.cookie") == ""
        cookie = next(c for c in context.cookies() if c["name"] == "rekindle_refresh")
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
        # A reload too.
        first.reload()
        first.wait_for_selector("#view-library:not([hidden])")
        assert first.locator("#view-signin").is_hidden()

        # Sign-out revokes the session: a new tab asks to sign in, and the other tab's token is
        # refused at its next request.
        if size["viewport"]["width"] < 400:
            second.get_by_role("button", name="Sign out").click()
        else:
            second.locator("#sign-out").click()
        second.wait_for_selector("#view-signin:not([hidden])")
        third = context.new_page()
        third.goto(web_stack.base_url + "/")
        third.wait_for_selector("#signin-form:not([hidden])")
        first.goto(web_stack.base_url + "/#/photos/00000000-0000-0000-0000-000000000000")
        expect(first.locator("#signin-error")).to_contain_text("session has ended")
        # Signing in again works.
        first.get_by_label("Email", exact=True).fill(email)
        first.get_by_label("Password", exact=True).fill(PASSWORD)
        first.get_by_role("button", name="Sign in").click()
        first.wait_for_selector("#session-bar:not([hidden])")
    finally:
        context.close()
