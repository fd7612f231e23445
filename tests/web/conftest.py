"""Fixtures for the page's browser tests: an embedded stack and Debian's Chromium via Playwright."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from rekindle.auth.local_accounts import create_local_user
from rekindle.db import session_scope
from tests.support.stack import Stack, running_stack, stack_settings

CHROMIUM = Path(os.environ.get("REKINDLE_CHROMIUM", "/usr/bin/chromium"))
PASSWORD = "darkroom-safelight"

# The page's assertions wait up to 15 s for the page to get there (Playwright's default is 5 s):
# CI shares 2 cores with other jobs, and the 40-photo batch test failed once while another test
# run loaded the machine. An assertion that never becomes true still fails.
expect.set_options(timeout=15_000)


@pytest.fixture(scope="module")
def web_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """`rekindle serve` on the embedded defaults: the API (and page) plus a worker process."""
    data_dir = tmp_path_factory.mktemp("data-web")
    with running_stack(stack_settings("embedded", data_dir), "embedded") as running:
        yield running


def local_account(stack: Stack, email: str) -> str:
    """Create a local account (as `rekindle users create` does); returns its id."""
    with session_scope(stack.runtime.sessions) as session:
        return create_local_user(session, email, PASSWORD, stack.settings).id


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Chromium from Debian (`apt-get install chromium`): Playwright cannot download one here."""
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)"
        if os.environ.get("REKINDLE_REQUIRE_SERVICES") == "1":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        try:
            yield browser
        finally:
            browser.close()
