"""Batches that finish (Chromium): 40 photos dropped at once all end restored under the default
rate limits (the page queues restorations and waits out each 429's Retry-After), "Restore all
unrestored" with its credit quote, and Retry for restorations that failed."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw
from playwright.sync_api import expect

from rekindle.config import Settings
from rekindle.credits.ledger import charge, grant
from rekindle.db import session_scope
from tests.support.stack import Stack, running_stack, stack_settings
from tests.web.conftest import local_account
from tests.web.test_page import browser_page, sign_in

DEFAULT_LIMITS = {
    name: Settings.model_fields[name].default
    for name in (
        "rate_limit_upload_per_minute",
        "rate_limit_restore_per_minute",
        "rate_limit_animate_per_minute",
    )
}


@pytest.fixture(scope="module")
def limited_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The embedded stack with a worker and the default rate limits (30 restorations a minute)."""
    values = stack_settings("embedded", tmp_path_factory.mktemp("web-batch"), **DEFAULT_LIMITS)
    with running_stack(values, "embedded") as stack:
        yield stack


def small_photos(folder: Path, count: int) -> list[Path]:
    """`count` small, different PNG pictures (quick to restore)."""
    paths = []
    for index in range(count):
        image = Image.new("RGB", (96 + index, 72), (120 + index, 100, 80))
        ImageDraw.Draw(image).line((0, index, 95, 71 - index), fill=(240, 240, 230), width=2)
        out = io.BytesIO()
        image.save(out, "PNG")
        path = folder / f"family-{index + 1:02d}.png"
        path.write_bytes(out.getvalue())
        paths.append(path)
    return paths


def test_forty_dropped_photos_all_restored_with_the_default_limits(
    limited_stack: Stack, browser: Any, tmp_path: Path
) -> None:
    assert DEFAULT_LIMITS["rate_limit_restore_per_minute"] < 40  # the limit is really met
    email = "forty@example.com"
    user_id = local_account(limited_stack, email)
    with session_scope(limited_stack.runtime.sessions) as session:
        grant(session, user_id, 30, reference="test:forty", reason="a big batch")
    files = small_photos(tmp_path, 40)
    refused: list[str] = []
    with browser_page(browser) as page:
        page.on("response", lambda r: r.status == 429 and refused.append(r.url))
        sign_in(page, limited_stack, email)
        page.set_input_files("#file-input", [str(f) for f in files])
        quote = page.locator("#batch-dialog")
        expect(quote).to_contain_text("Restoring 40 photos costs 40 credits. You have 40 credits.")
        quote.get_by_role("button", name="Upload and restore · 40 credits").click()
        expect(page.locator("#batch-summary")).to_have_text(
            "40 photos: 40 restored, 0 failed.", timeout=240_000
        )
        assert page.locator("#gallery .card[data-status='ready']").count() == 40
        assert page.locator(".upload[data-state='error']").count() == 0
        expect(page.locator("#credits-count")).to_have_text("0")
    # The limit was reached, and waited out rather than reported as a failure.
    assert refused and all(re.search(r"/photos/[^/]+/restore$", url) for url in refused)
    listed = limited_stack.client.get(
        "/api/v1/photos?limit=100", headers=limited_stack.auth(user_id)
    ).json()["items"]
    assert len(listed) == 40 and {p["status"] for p in listed} == {"ready"}


def test_restore_all_unrestored_and_retry_what_failed(
    web_stack: Stack, browser: Any, tmp_path: Path
) -> None:
    email = "restore-all@example.com"
    user_id = local_account(web_stack, email)
    files = small_photos(tmp_path, 3)
    with browser_page(browser) as page:
        sign_in(page, web_stack, email)
        page.locator("#auto-restore").uncheck()
        page.set_input_files("#file-input", [str(f) for f in files])
        page.wait_for_function("() => document.querySelectorAll('#gallery .card').length === 3")
        button = page.locator("#restore-all")
        expect(button).to_have_text("Restore all unrestored (3) · 3 credits")
        # Only 2 credits left: the third restoration is refused, then retried once paid for.
        with session_scope(web_stack.runtime.sessions) as session:
            charge(session, user_id, 8, reference="test:leave-two", reason="spent in a test")
        button.click()
        quote = page.locator("#batch-dialog")
        expect(quote).to_contain_text("Restoring 3 photos costs 3 credits.")
        quote.get_by_role("button", name="Restore all · 3 credits").click()
        expect(page.locator("#batch-summary")).to_have_text(
            "3 photos: 2 restored, 1 failed.", timeout=60_000
        )
        failed = page.locator(".upload[data-state='error']")
        expect(failed).to_have_count(1)
        with session_scope(web_stack.runtime.sessions) as session:
            grant(session, user_id, 1, reference="test:one-more", reason="one more")
        page.get_by_role("button", name="Retry the failed one").click()
        expect(page.locator("#batch-summary")).to_have_text(
            "3 photos: 3 restored, 0 failed.", timeout=60_000
        )
        assert button.is_hidden()
        assert page.locator("#gallery .card[data-status='ready']").count() == 3
