"""Inspecting a restoration in Chromium at 1280 and 360 px: zoom and pan that keep before and after
aligned (buttons, wheel), side by side, comparing two attempts, visible focus on the gallery's
cards, and no sideways scrolling on a phone."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.stack import Stack
from tests.web.test_page import PHOTOS, browser_page, restored_photo, sign_in

WIDE = {"viewport": {"width": 1280, "height": 900}}
PHONE = {"viewport": {"width": 360, "height": 740}, "is_mobile": True, "has_touch": True}
SIZES = pytest.mark.parametrize("size", [WIDE, PHONE], ids=["1280", "360"])


def boxes(page: Any) -> tuple[dict[str, float], dict[str, float]]:
    """The on-screen boxes of the before and the after picture."""
    return page.evaluate(  # type: ignore[no-any-return]
        "() => ['compare-before', 'compare-after'].map(id => {"
        " const r = document.getElementById(id).getBoundingClientRect();"
        " return {x: r.x, y: r.y, width: r.width, height: r.height}; })"
    )


def assert_aligned(page: Any) -> None:
    before, after = boxes(page)
    for key in ("x", "y", "width", "height"):
        assert abs(before[key] - after[key]) < 0.5, (key, before, after)


def open_compare(page: Any, stack: Stack, photo_id: str) -> None:
    page.goto(f"{stack.base_url}/#/photos/{photo_id}")
    page.wait_for_selector("#compare[data-mode='compare']")
    page.wait_for_function(
        "() => ['compare-before', 'compare-after'].every(id => {"
        " const i = document.getElementById(id); return i.complete && i.naturalWidth > 0; })"
    )


@SIZES
def test_zoom_with_buttons_and_wheel_keeps_before_and_after_aligned(
    web_stack: Stack, browser: Any, size: dict[str, Any]
) -> None:
    email = f"zoom-{size['viewport']['width']}@example.com"
    _, photo = restored_photo(web_stack, email, PHOTOS[1])
    with browser_page(browser, **size) as page:
        sign_in(page, web_stack, email)
        open_compare(page, web_stack, photo["id"])
        frame = page.locator("#compare-frame").bounding_box()
        assert frame is not None
        fit_width = boxes(page)[0]["width"]
        assert abs(fit_width - frame["width"]) < 1  # fitted: the picture fills the frame

        # The buttons, reached and pressed from the keyboard.
        page.get_by_role("button", name="Zoom in").focus()
        page.keyboard.press("Enter")
        page.keyboard.press("Enter")
        assert page.locator("#zoom-level").inner_text() == "225%"
        assert abs(boxes(page)[0]["width"] - fit_width * 2.25) < 1
        assert_aligned(page)
        page.get_by_role("button", name="Zoom out").click()
        assert page.locator("#zoom-level").inner_text() == "150%"
        assert_aligned(page)
        page.get_by_role("button", name="Fit").click()
        assert abs(boxes(page)[0]["width"] - fit_width) < 1

        # The wheel zooms around the pointer: the picture point under it stays under it.
        px = frame["x"] + frame["width"] * 0.25
        py = frame["y"] + frame["height"] * 0.25
        page.mouse.move(px, py)
        page.mouse.wheel(0, -400)
        page.wait_for_function("() => window.__rekindle.zoom.z > 1.5")
        before, _ = boxes(page)
        zoom = before["width"] / fit_width
        assert abs((px - before["x"]) / zoom - (px - frame["x"])) < 2
        assert abs((py - before["y"]) / zoom - (py - frame["y"])) < 2
        assert_aligned(page)

        # Dragging a zoomed picture pans both; the slider does not move.
        slider = page.locator("#compare-handle")
        position = slider.get_attribute("aria-valuenow")
        if size is WIDE:
            page.mouse.move(frame["x"] + frame["width"] * 0.6, frame["y"] + frame["height"] * 0.6)
            page.mouse.down()
            page.mouse.move(frame["x"] + frame["width"] * 0.5, frame["y"] + 10, steps=4)
            page.mouse.up()
            moved, _ = boxes(page)
            assert moved["x"] < before["x"] and moved["y"] < before["y"]
            assert slider.get_attribute("aria-valuenow") == position
            assert_aligned(page)

        # Side by side: the two panes show the same part of the picture.
        page.get_by_role("button", name="Side by side").click()
        page.wait_for_timeout(100)
        before, after = boxes(page)
        frame = page.locator("#compare-frame").bounding_box()
        assert frame is not None
        pane = frame["width"] / 2
        assert abs((before["x"] - frame["x"]) - (after["x"] - frame["x"] - pane)) < 1.5
        assert abs(before["y"] - after["y"]) < 0.5
        assert abs(before["width"] - after["width"]) < 0.5


def test_two_attempts_compared_and_a_new_attempt_does_not_steal_the_choice(
    web_stack: Stack, browser: Any
) -> None:
    email = "two-attempts@example.com"
    user_id, photo = restored_photo(web_stack, email, PHOTOS[2])
    first = web_stack.photo(photo["id"], user=user_id)["restore_attempts"][0]["id"]
    with browser_page(browser) as page:
        sign_in(page, web_stack, email)
        open_compare(page, web_stack, photo["id"])
        assert page.locator("#compare-pick").is_hidden()  # one result: nothing to pick
        assert not page.locator("#restore-choose").is_checked()
        page.locator("#restore-denoise").fill("0.9")
        page.locator("#restore-btn").click()
        page.wait_for_function(
            "() => document.querySelectorAll('#attempts .attempt[data-status=\"completed\"]')"
            ".length === 2"
        )
        # The person kept their choice: the first attempt stays the chosen one.
        page.wait_for_function(
            "(id) => document.querySelector(`#attempts [data-attempt-id='${id}'] .chosen`)",
            arg=first,
            timeout=15_000,
        )
        web_stack_photo = web_stack.photo(photo["id"], user=user_id)
        assert web_stack_photo["selected_restore_id"] == first
        # Compare attempt 1 (left) with attempt 2 (right).
        page.locator("#compare-pick").wait_for()
        page.locator("#compare-left").select_option(label="Attempt 1 (chosen)")
        page.locator("#compare-right").select_option(label="Attempt 2")
        second = web_stack_photo["restore_attempts"][0]["id"]
        assert first in (page.locator("#compare-before").get_attribute("src") or "")
        assert second in (page.locator("#compare-after").get_attribute("src") or "")
        assert page.locator(".compare-tag-before").inner_text().lower() == "attempt 1"


@SIZES
def test_focus_is_visible_on_gallery_cards(
    web_stack: Stack, browser: Any, size: dict[str, Any]
) -> None:
    email = f"focus-{size['viewport']['width']}@example.com"
    _, photo = restored_photo(web_stack, email, PHOTOS[1])
    with browser_page(browser, **size) as page:
        sign_in(page, web_stack, email)
        link = page.locator(f"#card-{photo['id']} .card-link")
        link.wait_for()
        card = page.locator(f"#card-{photo['id']}")
        plain = card.screenshot()
        for _ in range(30):  # Tab through the page until the card's link has the focus
            page.keyboard.press("Tab")
            if link.evaluate("a => a === document.activeElement"):
                break
        assert link.evaluate("a => a.matches(':focus-visible')")
        page.wait_for_timeout(300)  # the card's shadow transition
        ring = card.evaluate("c => getComputedStyle(c).boxShadow")
        assert "rgb(31, 95, 191)" in ring or "rgb(140, 184, 255)" in ring, ring
        # ... and it is drawn, not clipped: the card's pixels changed around its edge.
        assert card.evaluate("c => getComputedStyle(c).overflow") == "visible"
        focused = page.screenshot(clip=_grown(card.bounding_box(), 4))
        page.keyboard.press("Shift+Tab")
        page.wait_for_timeout(300)
        unfocused = page.screenshot(clip=_grown(card.bounding_box(), 4))
        assert focused != unfocused and plain


def _grown(box: dict[str, float] | None, by: float) -> dict[str, float]:
    assert box is not None
    return {
        "x": box["x"] - by,
        "y": box["y"] - by,
        "width": box["width"] + 2 * by,
        "height": box["height"] + 2 * by,
    }


def test_phone_layout_fits_and_the_slider_ignores_vertical_scrolls(
    web_stack: Stack, browser: Any
) -> None:
    email = "phone-layout@example.com"
    _, photo = restored_photo(web_stack, email, PHOTOS[0])
    with browser_page(browser, **PHONE) as page:
        sign_in(page, web_stack, email)
        # An upload row with a long name, and a failed one with its buttons, fit the screen.
        page.set_input_files(
            "#file-input",
            files=[
                {
                    "name": "grandmother-and-grandfather-wedding-day-1921-scan-600dpi.txt",
                    "mimeType": "text/plain",
                    "buffer": b"not a photo",
                }
            ],
        )
        page.locator(".upload[data-state='error'] .upload-retry").wait_for()
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        row = page.locator(".upload").first.bounding_box()
        assert row is not None and row["x"] + row["width"] <= 360
        open_compare(page, web_stack, photo["id"])
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        caption = page.locator("#compare-caption").inner_text()
        assert "arrow keys" not in caption and "Drag sideways" in caption
        frame = page.locator("#compare-frame")
        assert frame.evaluate("f => getComputedStyle(f).touchAction") == "pan-y"
        handle = page.locator("#compare-handle")
        box = frame.bounding_box()
        assert box is not None
        x, y = box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.5
        # A vertical swipe starting on the picture leaves the slider where it was ...
        _touch_drag(page, frame, (x, y), (x + 3, y - 120))
        assert handle.get_attribute("aria-valuenow") == "50"
        # ... a sideways one moves it.
        _touch_drag(page, frame, (x, y), (x - 60, y + 4))
        assert int(handle.get_attribute("aria-valuenow") or 0) < 40


def _touch_drag(
    page: Any, frame: Any, start: tuple[float, float], end: tuple[float, float]
) -> None:
    """One finger from `start` to `end`, as pointer events of type touch."""
    frame.evaluate(
        """(f, [start, end]) => {
            const at = ([x, y], type) => f.dispatchEvent(new PointerEvent(type, {
                pointerId: 7, pointerType: 'touch', isPrimary: true, bubbles: true,
                button: 0, buttons: type === 'pointerup' ? 0 : 1, clientX: x, clientY: y }));
            at(start, 'pointerdown');
            for (let i = 1; i <= 6; i++) at([start[0] + (end[0] - start[0]) * i / 6,
                                            start[1] + (end[1] - start[1]) * i / 6], 'pointermove');
            at(end, 'pointerup');
        }""",
        [list(start), list(end)],
    )


def test_pinch_double_tap_and_fullscreen_on_a_phone(web_stack: Stack, browser: Any) -> None:
    email = "pinch@example.com"
    _, photo = restored_photo(web_stack, email, PHOTOS[1])
    with browser_page(browser, **PHONE) as page:
        sign_in(page, web_stack, email)
        open_compare(page, web_stack, photo["id"])
        frame = page.locator("#compare-frame")
        frame.evaluate("f => f.scrollIntoView({block: 'center'})")
        box = frame.bounding_box()
        assert box is not None
        cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        # Two fingers moving apart zoom in; both pictures follow.
        frame.evaluate(
            """(f, [cx, cy]) => {
                const at = (id, x, type) => f.dispatchEvent(new PointerEvent(type, {
                    pointerId: id, pointerType: 'touch', bubbles: true, button: 0,
                    buttons: type === 'pointerup' ? 0 : 1, clientX: x, clientY: cy }));
                at(1, cx - 20, 'pointerdown'); at(2, cx + 20, 'pointerdown');
                for (let i = 1; i <= 5; i++) { at(1, cx - 20 - 10 * i, 'pointermove');
                                               at(2, cx + 20 + 10 * i, 'pointermove'); }
                at(1, cx - 70, 'pointerup'); at(2, cx + 70, 'pointerup');
            }""",
            [cx, cy],
        )
        assert abs(page.evaluate("window.__rekindle.zoom.z") - 3.5) < 0.05
        assert_aligned(page)
        assert page.locator("#compare-handle").get_attribute("aria-valuenow") == "50"
        # A double tap goes back to fit.
        frame.evaluate(
            """(f, [cx, cy]) => { for (const type of ['pointerdown', 'pointerup',
                                                      'pointerdown', 'pointerup'])
                f.dispatchEvent(new PointerEvent(type, { pointerId: 5, pointerType: 'touch',
                    bubbles: true, button: 0, clientX: cx, clientY: cy })); }""",
            [cx, cy],
        )
        assert page.evaluate("window.__rekindle.zoom.z") == 1
        page.get_by_role("button", name="Fullscreen").click()
        page.wait_for_function("() => document.fullscreenElement?.id === 'compare'")
        page.get_by_role("button", name="Exit fullscreen").click()
        page.wait_for_function("() => !document.fullscreenElement")


def test_a_photo_opened_offline_opens_when_the_connection_returns(
    web_stack: Stack, browser: Any
) -> None:
    email = "offline@example.com"
    _, photo = restored_photo(web_stack, email, PHOTOS[2])
    with browser_page(browser, color_scheme="dark") as page:
        sign_in(page, web_stack, email)
        # Dark mode follows the system's preference.
        assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(23, 18, 15)"
        page.context.set_offline(True)
        page.evaluate(f"location.hash = '#/photos/{photo['id']}'")
        page.wait_for_function(
            "() => document.getElementById('photo-title').textContent.includes('could not be')"
        )
        page.context.set_offline(False)
        page.wait_for_selector("#compare[data-mode='compare']", timeout=15_000)
        assert page.locator("#photo-title").inner_text() == PHOTOS[2].rsplit("/", 1)[-1]
