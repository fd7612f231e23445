"""Screenshots of the built-in page for docs/images at 360 px and 1280 px wide, from real old photos
restored by a real stack: the gallery, the comparison (plain, zoomed in, side by side), the damage
brush, the Share panel and the sign-up card. Run explicitly (not part of CI):

    uv run python -m tests.web.make_screenshots

(The public share page's own screenshots: `uv run python -m tests.web.make_share_screenshots`.)
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from playwright.sync_api import sync_playwright

from rekindle.auth.local_accounts import create_local_user
from rekindle.db import session_scope
from tests.support.engines import registered_test_engines
from tests.support.services import REPO_ROOT, SHARED_PHOTOS
from tests.support.stack import running_stack, stack_settings

OUT = REPO_ROOT / "docs" / "images"
PHOTOS = [
    "bw-migrant-mother-1936.jpg",
    "autochrome-girl-garden.png",
    "bw-two-people-1919.jpg",
    "faded-boy-glasses.png",
    "tinted-porter-load.png",
    "scratch-girl-floral.png",
    "scratch-couple-soldier.png",  # uploaded last: newest, first in the gallery and compared
]
EMAIL, PASSWORD = "margaret@example.com", "archive-darkroom"


def settle(page: Any) -> None:
    page.wait_for_function(
        "() => [...document.querySelectorAll('img')].filter(i => i.offsetParent && i.src)"
        ".every(i => i.complete && i.naturalWidth > 0)"
    )
    time.sleep(0.4)


def shoot(page: Any, name: str, width: int) -> None:
    page.screenshot(path=str(OUT / f"{name}-{width}.png"))
    print(OUT / f"{name}-{width}.png")


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as data_dir:
        values = stack_settings(
            "embedded",
            Path(data_dir),
            # `probe` (tests/support/engines.py) honours the mask, so the brush is offered; the
            # restorations themselves run on classic in the worker.
            rekindle_engines_allowed="classic,probe",
            signup_enabled=True,
            signup_require_verification=False,
        )
        with registered_test_engines(), running_stack(values, "embedded") as stack:
            capture(stack)


def capture(stack: Any) -> None:
    with session_scope(stack.runtime.sessions) as session:
        user_id = create_local_user(session, EMAIL, PASSWORD, stack.settings).id
    photo_id = ""
    for name in PHOTOS:
        photo = stack.upload(SHARED_PHOTOS / "real-old" / name, user=user_id)
        stack.restore(photo["id"], user=user_id, denoise=0.5)
        stack.wait_for_photo(photo["id"], ("ready",), user=user_id, timeout=180)
        photo_id = photo["id"]
    # A second attempt, to compare two results.
    stack.restore(photo_id, user=user_id, denoise=0.8)
    stack.wait_for_photo(photo_id, ("ready",), user=user_id, timeout=180)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--no-sandbox"]
        )
        for width, height, scale in [(1280, 860, 1), (360, 780, 2)]:
            phone = width < 400
            context = browser.new_context(
                viewport={"width": width, "height": height},
                device_scale_factor=scale,
                has_touch=phone,
                is_mobile=phone,
            )
            page = context.new_page()
            page.goto(stack.base_url + "/")
            page.get_by_role("button", name="Create an account").click()
            page.get_by_label("Your email").fill("new.reader@example.com")
            time.sleep(0.3)
            shoot(page, "signup", width)
            page.get_by_role("button", name="Sign in").click()
            page.get_by_label("Email", exact=True).fill(EMAIL)
            page.get_by_label("Password", exact=True).fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_function("() => window.__rekindle.live === 'live'")
            settle(page)
            shoot(page, "gallery", width)

            page.goto(f"{stack.base_url}/#/photos/{photo_id}")
            page.wait_for_selector("#compare[data-mode='compare']")
            settle(page)
            page.locator("#compare-handle").focus()
            for _ in range(5):
                page.keyboard.press("ArrowLeft")
            page.locator("#compare-handle").blur()
            time.sleep(0.3)
            shoot(page, "compare", width)

            # Zoomed in on the faces, the slider between the two attempts' detail.
            frame = page.locator("#compare-frame").bounding_box()
            assert frame is not None
            page.evaluate("window.__rekindle && document.getElementById('zoom-fit').click()")
            for _ in range(3):
                page.get_by_role("button", name="Zoom in").click()
            page.evaluate(
                "() => { const f = document.getElementById('compare-frame');"
                " f.style.setProperty('--px', '-0.9'); f.style.setProperty('--py', '-0.55'); }"
            )
            page.locator("#compare-frame").scroll_into_view_if_needed()
            time.sleep(0.4)
            shoot(page, "compare-zoomed", width)
            page.get_by_role("button", name="Fit").click()

            page.get_by_role("button", name="Side by side").click()
            page.locator("#compare-left").select_option(index=2)
            time.sleep(0.4)
            page.evaluate("window.scrollTo(0, 0)")
            shoot(page, "compare-side", width)
            page.get_by_role("button", name="Slider").click()
            page.locator("#compare-left").select_option(index=0)

            # The brush, offered for an engine whose options include the mask.
            page.locator("#restore-engine").select_option("probe")
            page.get_by_role("button", name="Paint damage").click()
            page.wait_for_selector("#compare[data-mode='paint']")
            canvas = page.locator("#mask-canvas")
            canvas.evaluate("c => c.scrollIntoView({block: 'center'})")
            box = canvas.bounding_box()
            assert box is not None
            for fy, fx0, fx1 in [(0.3, 0.2, 0.45), (0.62, 0.55, 0.8)]:
                page.mouse.move(box["x"] + box["width"] * fx0, box["y"] + box["height"] * fy)
                page.mouse.down()
                page.mouse.move(
                    box["x"] + box["width"] * fx1, box["y"] + box["height"] * (fy + 0.05), steps=10
                )
                page.mouse.up()
            time.sleep(0.3)
            # The picture and the brush's controls below it.
            page.evaluate(
                "window.scrollTo(0, document.getElementById('compare-frame')"
                ".getBoundingClientRect().top + window.scrollY - (innerWidth < 400 ? 70 : 140))"
            )
            shoot(page, "brush", width)
            page.get_by_role("button", name="Clear").click()
            page.get_by_role("button", name="Stop painting").click()

            page.get_by_role("button", name="Share").click()
            page.get_by_role("button", name="Create a link").click()
            page.wait_for_selector("#share-links .share-url")
            page.locator("#share-panel").scroll_into_view_if_needed()
            time.sleep(0.3)
            shoot(page, "share-panel", width)
            context.close()
        browser.close()


if __name__ == "__main__":
    main()
