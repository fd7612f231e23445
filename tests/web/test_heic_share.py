"""A HEIC original shows on both sides of the comparison (its JPEG display copy on the "before"
side), and the photo view's Share button makes a link, copies it, lists it, and revokes it — in
Chromium at 1280 and 360 px."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pillow_heif
from PIL import Image, ImageDraw
from playwright.sync_api import expect

from tests.support.stack import Stack
from tests.web.conftest import local_account
from tests.web.test_inspect import SIZES, open_compare
from tests.web.test_page import browser_page, sign_in


def heic_photo(path: Path) -> Path:
    """A 640×480 HEIC picture (what an iPhone stores), written with pillow-heif."""
    image = Image.new("RGB", (640, 480), (150, 120, 90))
    ImageDraw.Draw(image).ellipse((200, 120, 440, 360), fill=(230, 210, 180))
    pillow_heif.register_heif_opener()
    out = io.BytesIO()
    image.save(out, "HEIF")
    path.write_bytes(out.getvalue())
    return path


@SIZES
def test_a_heic_original_shows_on_both_sides(
    web_stack: Stack, browser: Any, tmp_path: Path, size: dict[str, Any]
) -> None:
    email = f"heic-{size['viewport']['width']}@example.com"
    user_id = local_account(web_stack, email)
    photo = web_stack.upload(heic_photo(tmp_path / "IMG_0420.HEIC"), user=user_id)
    assert web_stack.restore(photo["id"], user=user_id).status_code == 202
    web_stack.wait_for_photo(photo["id"], ("ready",), user=user_id)
    with browser_page(browser, **size) as page:
        sign_in(page, web_stack, email)
        open_compare(page, web_stack, photo["id"])  # waits for both pictures to be decoded
        sizes = page.evaluate(
            "() => ['compare-before', 'compare-after'].map(id => {"
            " const i = document.getElementById(id); return [i.naturalWidth, i.naturalHeight]; })"
        )
        assert sizes[0] == [640, 480]
        assert sizes[1][0] > 0
        before = page.locator("#compare-before").get_attribute("src") or ""
        assert before.split("?")[0] != photo["original_url"].split("?")[0]  # the display copy
        # The untouched original still downloads under its own name.
        original = page.locator("#download-original")
        assert original.get_attribute("download") == "IMG_0420.HEIC"
        assert page.locator("#download-result").get_attribute("download") == (
            "IMG_0420-restored.jpg"
        )


@SIZES
def test_share_button_copies_a_link_lists_it_and_revokes_it(
    web_stack: Stack, browser: Any, tmp_path: Path, size: dict[str, Any]
) -> None:
    email = f"share-button-{size['viewport']['width']}@example.com"
    user_id = local_account(web_stack, email)
    path = tmp_path / "porch.png"
    Image.new("RGB", (300, 200), (140, 110, 80)).save(path)
    photo = web_stack.upload(path, user=user_id)
    assert web_stack.restore(photo["id"], user=user_id).status_code == 202
    web_stack.wait_for_photo(photo["id"], ("ready",), user=user_id)
    with browser_page(browser, permissions=["clipboard-read", "clipboard-write"], **size) as page:
        sign_in(page, web_stack, email)
        open_compare(page, web_stack, photo["id"])
        page.get_by_role("button", name="Share").click()
        expect(page.locator(".share-empty")).to_have_text("No active links.")
        page.get_by_role("button", name="Create a link").click()
        expect(page.locator("#toast")).to_have_text("Link copied.")
        url = page.evaluate("navigator.clipboard.readText()")
        assert "/s/" in url
        links = page.locator("#share-links .share-link")
        expect(links).to_have_count(1)
        assert links.first.locator(".share-url").input_value() == url
        assert page.evaluate("document.documentElement.scrollWidth") <= size["viewport"]["width"]

        # The link opens for anyone: a fresh context, no cookies.
        other = browser.new_context()
        try:
            shared = other.new_page().goto(url)
            assert shared is not None and shared.status == 200
            links.first.get_by_role("button", name="Revoke").click()
            expect(page.locator(".share-empty")).to_have_text("No active links.")
            gone = other.new_page().goto(url)
            assert gone is not None and gone.status == 404
        finally:
            other.close()
