"""Screenshots of the built-in page for docs/: the gallery and the comparison view at 360 px and
1280 px wide, from real old photos restored by a real stack. Run explicitly (not part of CI):

    uv run python -m tests.web.make_screenshots
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

from rekindle.auth.local_accounts import create_local_user
from rekindle.db import session_scope
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


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory() as data_dir,
        running_stack(stack_settings("embedded", Path(data_dir)), "embedded") as stack,
    ):
        with session_scope(stack.runtime.sessions) as session:
            user_id = create_local_user(session, EMAIL, PASSWORD, stack.settings).id
        photo_id = ""
        for name in PHOTOS:
            photo = stack.upload(SHARED_PHOTOS / "real-old" / name, user=user_id)
            stack.restore(photo["id"], user=user_id, denoise=0.5)
            stack.wait_for_photo(photo["id"], ("ready",), user=user_id, timeout=120)
            photo_id = photo["id"]
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path="/usr/bin/chromium", args=["--no-sandbox"]
            )
            for width, height, scale in [(1280, 860, 1), (360, 780, 2)]:
                context = browser.new_context(
                    viewport={"width": width, "height": height}, device_scale_factor=scale
                )
                page = context.new_page()
                page.goto(stack.base_url + "/")
                page.get_by_label("Email", exact=True).fill(EMAIL)
                page.get_by_label("Password", exact=True).fill(PASSWORD)
                page.get_by_role("button", name="Sign in").click()
                page.wait_for_function("() => window.__rekindle.live === 'live'")
                page.wait_for_function(
                    "() => [...document.querySelectorAll('#gallery img')]"
                    ".every(i => i.complete && i.naturalWidth > 0)"
                )
                time.sleep(0.5)
                page.screenshot(path=str(OUT / f"gallery-{width}.png"))
                page.goto(f"{stack.base_url}/#/photos/{photo_id}")
                page.wait_for_selector("#compare[data-mode='compare']")
                page.wait_for_function(
                    "() => document.getElementById('compare-after').complete && "
                    "document.getElementById('compare-before').complete"
                )
                page.locator("#compare-handle").focus()
                for _ in range(5):
                    page.keyboard.press("ArrowLeft")
                page.locator("#compare-handle").blur()
                time.sleep(0.3)
                page.screenshot(path=str(OUT / f"compare-{width}.png"))
                context.close()
            browser.close()
    for name in ("gallery-1280", "gallery-360", "compare-1280", "compare-360"):
        print(OUT / f"{name}.png")


if __name__ == "__main__":
    main()
