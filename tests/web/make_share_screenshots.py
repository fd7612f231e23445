"""Screenshots of the public share page for docs/ (360 px and 1280 px), from a real old photo
restored by a real stack. Run explicitly (not part of CI):

    uv run python -m tests.web.make_share_screenshots
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

from tests.support.services import REPO_ROOT, SHARED_PHOTOS
from tests.support.stack import running_stack, stack_settings

OUT = REPO_ROOT / "docs" / "images"
PHOTO = SHARED_PHOTOS / "real-old" / "scratch-couple-soldier.png"


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory() as data_dir,
        running_stack(stack_settings("embedded", Path(data_dir)), "embedded") as stack,
    ):
        photo = stack.upload(PHOTO)
        stack.restore(photo["id"])
        stack.wait_for_photo(photo["id"], ("ready",), timeout=120)
        link = stack.client.post(
            f"/api/v1/photos/{photo['id']}/shares", headers=stack.auth(), json={}
        ).json()
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path="/usr/bin/chromium", args=["--no-sandbox"]
            )
            for width, height, scale in [(1280, 860, 1), (360, 740, 2)]:
                context = browser.new_context(
                    viewport={"width": width, "height": height}, device_scale_factor=scale
                )
                page = context.new_page()
                page.goto(link["url"])
                page.wait_for_function(
                    "() => document.querySelector('#after').naturalWidth > 0"
                    " && document.querySelector('#before').naturalWidth > 0"
                )
                page.get_by_role("slider").fill("40")
                page.screenshot(path=str(OUT / f"share-{width}.png"))
                context.close()
            browser.close()


if __name__ == "__main__":
    main()
