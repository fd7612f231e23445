"""The built-in page in a real browser (Debian's Chromium through Playwright) against `rekindle
serve`'s embedded stack: sign in, upload real photos, watch them restore through the live stream,
compare, restore again, animate, download, delete."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.support.services import shared_photo
from tests.support.stack import Stack
from tests.web.conftest import PASSWORD, local_account

PHOTOS = [
    "real-old/scratch-couple-soldier.png",
    "real-old/bw-two-people-1919.jpg",
    "real-old/faded-boy-glasses.png",
]


def sign_in(page: Any, stack: Stack, email: str) -> None:
    page.goto(stack.base_url + "/")
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_selector("#view-library:not([hidden])")
    page.wait_for_function("() => window.__rekindle.live === 'live'", timeout=15_000)


@contextmanager
def browser_page(browser: Any, **options: Any) -> Iterator[Any]:
    """A page in a browser context of its own (1280×900 unless `options` give a viewport),
    closed afterwards."""
    context = browser.new_context(**{"viewport": {"width": 1280, "height": 900}, **options})
    try:
        yield context.new_page()
    finally:
        context.close()


def restored_photo(stack: Stack, email: str, name: str) -> tuple[str, dict[str, Any]]:
    """A new local account with one shared photo uploaded and restored through the API; returns
    (user id, the upload's photo body)."""
    user_id = local_account(stack, email)
    photo = stack.upload(shared_photo(name), user=user_id)
    stack.restore(photo["id"], user=user_id)
    stack.wait_for_photo(photo["id"], ("ready",), user=user_id)
    return user_id, photo


def stream_events(page: Any) -> list[dict[str, Any]]:
    return page.evaluate("window.__rekindle.events")  # type: ignore[no-any-return]


def test_sign_in_upload_restore_live_compare_download_delete(
    web_stack: Stack, browser: Any, tmp_path: Path
) -> None:
    email = "reader@example.com"
    local_account(web_stack, email)
    files = [shared_photo(name) for name in PHOTOS]
    errors: list[str] = []
    with browser_page(browser, accept_downloads=True) as page:
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        # A wrong password is refused with the server's message.
        page.goto(web_stack.base_url + "/")
        page.get_by_label("Email", exact=True).fill(email)
        page.get_by_label("Password", exact=True).fill("not-the-password")
        page.get_by_role("button", name="Sign in").click()
        expect(page.locator("#signin-error")).to_contain_text("not correct")

        sign_in(page, web_stack, email)
        # The access token is in the page's memory only, never in storage.
        assert page.evaluate("window.__rekindle.token()")
        assert page.evaluate("sessionStorage.length + localStorage.length") == 0

        # Three real photos at once; each is restored and the page learns it from the stream.
        page.set_input_files("#file-input", [str(f) for f in files])
        # Several photos with auto-restore: the page quotes the total first.
        quote = page.locator("#batch-dialog")
        expect(quote).to_contain_text("Restoring 3 photos costs 3 credits. You have 10 credits.")
        quote.get_by_role("button", name="Upload and restore · 3 credits").click()
        page.wait_for_function(
            "() => document.querySelectorAll('#gallery .card[data-status=\"ready\"]').length === 3",
            timeout=120_000,
        )
        events = stream_events(page)
        completed = {e["photo_id"] for e in events if e["status"] == "completed"}
        assert len(completed) == 3, events
        assert page.evaluate("window.__rekindle.polls") == 0  # the stream did it, not polling
        names = page.locator("#gallery .card-name").all_inner_texts()
        assert names == [f.name for f in files] or sorted(names) == sorted(f.name for f in files)

        # A rejected upload shows the server's message as written.
        page.set_input_files(
            "#file-input",
            files=[{"name": "notes.txt", "mimeType": "text/plain", "buffer": b"hello"}],
        )
        rejected = page.locator(".upload[data-state='error'] .upload-message").first
        rejected.wait_for()
        server_says = web_stack.client.post(
            "/api/v1/photos", headers=_bearer(page), files={"file": ("notes.txt", b"hello")}
        ).json()["error"]["message"]
        assert rejected.inner_text() == server_says

        # The comparison view: drag, then the keyboard.
        page.locator("#gallery .card-link").first.click()
        page.wait_for_selector("#compare[data-mode='compare']")
        page.wait_for_function("() => document.getElementById('compare-after').complete")
        handle = page.get_by_role("slider", name=re.compile("Before and after"))
        box = page.locator("#compare-frame").bounding_box()
        assert box is not None
        page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] * 0.2, box["y"] + box["height"] * 0.5, steps=5)
        page.mouse.up()
        assert abs(int(handle.get_attribute("aria-valuenow")) - 20) <= 2
        handle.focus()
        page.keyboard.press("End")
        assert handle.get_attribute("aria-valuenow") == "100"
        page.keyboard.press("ArrowLeft")
        assert handle.get_attribute("aria-valuenow") == "98"
        page.keyboard.press("Home")
        assert handle.get_attribute("aria-valuenow") == "0"

        # Restore again with another denoise value; the new attempt completes live.
        before = len(stream_events(page))
        # The engine choice comes from GET /engines (restoration engines only, default chosen).
        assert page.locator("#restore-engine").input_value() == "classic"
        assert page.locator("#restore-engine option").count() == 1
        page.locator("#restore-denoise").fill("0.9")
        assert page.locator("#restore-denoise-value").inner_text() == "0.90"
        page.get_by_role("button", name="Restore · 1 credit", exact=True).click()
        page.wait_for_function(
            "() => document.querySelectorAll('#attempts .attempt').length === 2 && "
            "document.querySelector('#attempts .attempt').dataset.status === 'completed'",
            timeout=60_000,
        )
        new_events = stream_events(page)[before:]
        # The page learnt the result from the stream (a late `processing` frame may trail it).
        assert "completed" in [e["status"] for e in new_events]
        assert "Denoise 0.90" in page.locator("#attempts .attempt").first.inner_text()
        assert "Denoise 0.50" in page.locator("#attempts .attempt").nth(1).inner_text()
        # The first attempt stays the chosen one until the person picks the new one.
        page.wait_for_selector("#attempts .attempt:nth-child(2) .chosen")
        page.locator("#attempts .attempt").nth(0).get_by_role("button", name="Use this one").click()
        page.wait_for_selector("#attempts .attempt:nth-child(1) .chosen")

        # Download the restored photo: a JPEG.
        with page.expect_download() as download_info:
            page.locator("#download-result").click()
        saved = tmp_path / "restored.jpg"
        download_info.value.save_as(saved)
        assert saved.read_bytes()[:3] == b"\xff\xd8\xff"
        assert download_info.value.suggested_filename.endswith(".jpg")

        # Delete, after confirming.
        photo_id = page.url.rsplit("/", 1)[-1]
        page.get_by_role("button", name="Delete this photograph").click()
        dialog = page.locator("#confirm-delete")
        assert dialog.evaluate("d => d.open")
        dialog.get_by_role("button", name="Keep it").click()
        assert (
            web_stack.client.get(f"/api/v1/photos/{photo_id}", headers=_bearer(page)).status_code
            == 200
        )
        page.get_by_role("button", name="Delete this photograph").click()
        dialog.get_by_role("button", name="Delete", exact=True).click()
        page.wait_for_selector("#view-library:not([hidden])")
        page.wait_for_function("() => document.querySelectorAll('#gallery .card').length === 2")
        gone = web_stack.client.get(f"/api/v1/photos/{photo_id}", headers=_bearer(page))
        assert gone.status_code == 404
        assert errors == []


def test_photo_view_opens_when_a_live_update_overtakes_its_first_fetch(
    web_stack: Stack, browser: Any
) -> None:
    """A live event for the photo being opened starts a second fetch that answers first: the view
    still opens (it once read the overtaken fetch as "photo deleted" and went back to the list)."""
    email = "overtaken@example.com"
    user_id, photo = restored_photo(web_stack, email, PHOTOS[1])
    held: list[Any] = []
    fetches: list[str] = []

    def hold_the_first_fetch(route: Any) -> None:
        fetches.append(route.request.url)
        if held:
            route.continue_()
        else:
            held.append(route)

    with browser_page(browser) as page:
        sign_in(page, web_stack, email)
        page.wait_for_selector(f"#card-{photo['id']}[data-status='ready']")
        page.route(f"**/api/v1/photos/{photo['id']}", hold_the_first_fetch)
        page.locator(f"#card-{photo['id']} .card-link").click()
        page.wait_for_function("() => document.getElementById('photo-title')")
        assert web_stack.restore(photo["id"], user=user_id).status_code == 202
        deadline = time.monotonic() + 30
        while len(fetches) < 2:  # the stream's event made the page fetch the photo again
            assert time.monotonic() < deadline, fetches
            page.wait_for_timeout(50)
        page.wait_for_timeout(300)  # ... and that second fetch has been answered
        held[0].continue_()
        page.wait_for_selector("#compare[data-mode='compare']", timeout=10_000)
        assert page.url.endswith(f"#/photos/{photo['id']}")
        web_stack.wait_for_photo(photo["id"], ("ready",), user=user_id)


def test_a_photo_opened_by_its_link_is_in_the_gallery_afterwards(
    web_stack: Stack, browser: Any
) -> None:
    """Reloading on a photo's address reads that photo before the gallery: going back to the
    gallery must still show its card (it once counted as already shown, and was left out)."""
    email = "bookmark@example.com"
    _, photo = restored_photo(web_stack, email, PHOTOS[2])
    with browser_page(browser) as page:
        sign_in(page, web_stack, email)
        page.goto(f"{web_stack.base_url}/#/photos/{photo['id']}")
        page.reload()
        page.wait_for_selector("#compare[data-mode='compare']")
        page.get_by_role("link", name="All photographs").click()
        page.wait_for_selector(f"#card-{photo['id']}[data-status='ready']")
        assert page.locator("#gallery-empty").is_hidden()


def test_signing_in_again_after_the_session_ended_shows_the_gallery(
    web_stack: Stack, browser: Any
) -> None:
    """A token the server refuses (expired, revoked) ends the session; signing in again shows the
    photos, not "No photographs yet" (the refused gallery read once stopped further pages)."""
    email = "expired@example.com"
    _, photo = restored_photo(web_stack, email, PHOTOS[1])
    with browser_page(browser) as page:
        sign_in(page, web_stack, email)
        page.wait_for_selector(f"#card-{photo['id']}")
        # The session is gone server-side (no refresh cookie) and the token is refused.
        page.context.clear_cookies()
        page.evaluate("window.__rekindle.setToken('no.longer.valid')")
        page.evaluate("window.__rekindle.drop()")  # the page asks for a new stream ticket
        expect(page.locator("#signin-error")).to_contain_text("session has ended")
        # Sign in on the same page (no reload: the page's state is what is under test).
        page.get_by_label("Email", exact=True).fill(email)
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_selector(f"#card-{photo['id']}[data-status='ready']")
        assert page.locator("#gallery-empty").is_hidden()


def _bearer(page: Any) -> dict[str, str]:
    return {"Authorization": "Bearer " + page.evaluate("window.__rekindle.token()")}


def test_the_stream_drops_and_the_page_catches_up(web_stack: Stack, browser: Any) -> None:
    """When the stream breaks, the page polls, reconnects with a new ticket, and shows the status
    the photo has now, not the one it had when the stream dropped."""
    email = "dropper@example.com"
    local_account(web_stack, email)
    with browser_page(browser) as page:
        sign_in(page, web_stack, email)
        page.set_input_files("#file-input", [str(shared_photo(PHOTOS[1]))])
        page.wait_for_selector("#gallery .card[data-status='ready']", timeout=60_000)
        # Cut the stream off: the open stream drops and every new one fails for a while.
        page.route("**/api/v1/events?*", lambda route: route.abort())
        page.evaluate("window.__rekindle.drop()")
        page.wait_for_function("() => window.__rekindle.live === 'polling'", timeout=10_000)
        photo_id = page.locator("#gallery .card").first.get_attribute("data-photo-id")
        assert photo_id
        events_before = len(stream_events(page))
        # (the page did not start this restoration: only polling can tell it; `select` makes the
        # new attempt the chosen one, which the card shows)
        assert web_stack.restore(photo_id, user=_subject(page), select=True).status_code == 202
        # Polling shows the change while the stream is down: the card shows the new result.
        attempt = web_stack.wait_for_photo(photo_id, ("ready",), user=_subject(page))
        new_result = attempt["restore_attempts"][0]["id"]
        page.wait_for_function(
            "([id, attempt]) => (document.querySelector(`#card-${id} img`).dataset.src || '')"
            ".includes(attempt)",
            arg=[photo_id, new_result],
            timeout=20_000,
        )
        assert page.evaluate("window.__rekindle.polls") > 0
        assert len(stream_events(page)) == events_before
        # ... and the stream comes back by itself once it can.
        page.unroute("**/api/v1/events?*")
        page.wait_for_function("() => window.__rekindle.live === 'live'", timeout=40_000)
        assert page.locator(f"#card-{photo_id}").get_attribute("data-status") == "ready"


def _subject(page: Any) -> str:
    return str(
        page.evaluate(
            "JSON.parse(atob(window.__rekindle.token().split('.')[1]"
            ".replace(/-/g,'+').replace(/_/g,'/'))).sub"
        )
    )


def test_animate_and_play(web_stack: Stack, browser: Any) -> None:
    email = "animator@example.com"
    _, photo = restored_photo(web_stack, email, PHOTOS[0])
    with browser_page(browser) as page:
        sign_in(page, web_stack, email)
        page.goto(f"{web_stack.base_url}/#/photos/{photo['id']}")
        page.wait_for_selector("#animation-panel:not([hidden])")
        page.get_by_role("button", name="Animate · 3 credits").click()
        page.wait_for_selector("#animation-video:not([hidden])", timeout=180_000)
        page.wait_for_function(
            "() => document.getElementById('animation-video').readyState >= 2", timeout=30_000
        )
        assert page.evaluate("document.getElementById('animation-video').duration") > 1
        statuses = page.locator("#animation-status")
        assert statuses.is_hidden()
        download = page.locator("#animation-download")
        assert (download.get_attribute("href") or "").split("?")[0].endswith(".mp4")
        # Saved under the original's name, not the object's.
        stem = Path(PHOTOS[0]).stem
        assert download.get_attribute("download") == f"{stem}-animation.mp4"
        # HD is bought from here, at its price.
        expect(page.locator("#credits-count")).to_have_text("6")  # 10 - restore 1 - animate 3
        hd = page.get_by_role("button", name="HD · 5 credits")
        hd.click()
        expect(page.locator("#hd-status")).to_contain_text("Making the HD version")
        expect(page.locator("#credits-count")).to_have_text("1")
        assert hd.is_hidden()


def test_small_screen_has_no_sideways_scrolling(web_stack: Stack, browser: Any) -> None:
    email = "phone@example.com"
    local_account(web_stack, email)
    phone = {"viewport": {"width": 360, "height": 740}, "is_mobile": True, "has_touch": True}
    with browser_page(browser, **phone) as page:
        sign_in(page, web_stack, email)
        page.set_input_files("#file-input", [str(shared_photo(PHOTOS[2]))])
        page.wait_for_selector("#gallery .card[data-status='ready']", timeout=60_000)
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        page.locator("#gallery .card-link").first.click()
        page.wait_for_selector("#compare[data-mode='compare']")
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        assert page.locator("#file-input").get_attribute("accept") == "image/*"
