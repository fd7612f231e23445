"""The public share page in Chromium: a share link opens in a fresh browser context with no
sign-in and shows the before/after slider; after revocation the same link shows that it ended
(HTTP 404). At 1280 px and at 360 px with touch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from playwright.sync_api import expect

from tests.support.stack import Stack
from tests.web.conftest import local_account

VIEWPORTS = {
    "desktop": {"viewport": {"width": 1280, "height": 800}},
    "phone": {"viewport": {"width": 360, "height": 740}, "has_touch": True, "is_mobile": True},
}


def _restored(stack: Stack, tmp_path: Path, email: str) -> tuple[str, str]:
    user = local_account(stack, email)
    path = tmp_path / "family.png"
    Image.new("RGB", (300, 200), (140, 110, 80)).save(path)
    photo = stack.upload(path, user=user)
    assert stack.restore(photo["id"], user=user).status_code == 202
    stack.wait_for_photo(photo["id"], ("ready",), user=user)
    return user, photo["id"]


@pytest.mark.parametrize("device", list(VIEWPORTS))
def test_share_link_opens_without_sign_in_and_ends_when_revoked(
    web_stack: Stack, browser: Any, tmp_path: Path, device: str
) -> None:
    user, photo_id = _restored(web_stack, tmp_path, f"sharer-{device}@example.com")
    made = web_stack.client.post(
        f"/api/v1/photos/{photo_id}/shares", headers=web_stack.auth(user), json={}
    )
    assert made.status_code == 201, made.text
    link = made.json()

    errors: list[str] = []
    context = browser.new_context(**VIEWPORTS[device])  # fresh: no storage, no cookies
    try:
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        requests: list[Any] = []
        page.on("request", lambda request: requests.append(request))
        response = page.goto(link["url"])
        assert response is not None and response.status == 200
        expect(page.locator("#compare")).to_be_visible()
        for image in ("#before", "#after"):
            page.wait_for_function(
                f"() => document.querySelector('{image}').naturalWidth > 0", timeout=15_000
            )
        slider = page.get_by_role("slider")
        expect(slider).to_have_attribute("aria-valuetext", "50% original")
        slider.focus()
        page.keyboard.press("ArrowRight")
        expect(slider).to_have_attribute("aria-valuetext", "51% original")
        # Nothing sent credentials, and nothing about the owner is on the page.
        assert all("authorization" not in r.headers for r in requests)
        assert "sharer" not in page.content() and "family" not in page.content()
        overflow = page.evaluate("document.documentElement.scrollWidth > window.innerWidth")
        assert not overflow

        revoked = web_stack.client.delete(
            f"/api/v1/photos/{photo_id}/shares/{link['id']}", headers=web_stack.auth(user)
        )
        assert revoked.status_code == 204
        again = page.goto(link["url"])
        assert again is not None and again.status == 404
        expect(page.locator("#share-status")).to_contain_text("This link has ended")
        expect(page.locator("#compare")).to_be_hidden()
    finally:
        context.close()
    assert not errors
