"""Honest options and prices on the page (Chromium at 1280 and 360 px): the restore form offers only
what the chosen engine honours (GET /engines), every action shows its price, and a damage mask
painted with the brush arrives with the restore request."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
from PIL import Image
from playwright.sync_api import expect

from rekindle.credits.ledger import charge
from rekindle.db import session_scope
from tests.support.engines import registered_test_engines
from tests.support.services import shared_photo
from tests.support.stack import Stack, running_stack, stack_settings
from tests.web.conftest import local_account
from tests.web.test_inspect import PHONE, SIZES, WIDE
from tests.web.test_page import PHOTOS, browser_page, sign_in


@pytest.fixture(scope="module")
def engines_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The API with `classic` (denoise only), `probe` (every option, the mask included) and
    `plain` (none). No worker: the page's requests are what is under test, and `probe` exists in
    this process only."""
    values = stack_settings(
        "embedded",
        tmp_path_factory.mktemp("web-engines"),
        rekindle_engines_allowed="classic,probe,plain",
    )
    with registered_test_engines(), running_stack(values, "embedded", worker=False) as stack:
        yield stack


OPTIONS = ("denoise", "colorize", "prompt", "seed", "mask")


def visible_options(page: Any) -> dict[str, bool]:
    return {
        name: page.locator(selector).is_visible()
        for name, selector in {
            "denoise": "#restore-denoise",
            "colorize": "#restore-colorize",
            "prompt": "#restore-prompt",
            "seed": "#restore-seed",
            "mask": "#brush-field",
        }.items()
    }


@SIZES
def test_prices_shown_and_only_the_options_an_engine_honours(
    engines_stack: Stack, browser: Any, size: dict[str, Any]
) -> None:
    email = f"options-{size['viewport']['width']}@example.com"
    user_id = local_account(engines_stack, email)
    photo = engines_stack.upload(shared_photo(PHOTOS[1]), user=user_id)
    with browser_page(browser, **size) as page:
        sign_in(page, engines_stack, email)
        # The upload's auto-restore says what it costs, once the price list has loaded.
        expect(page.locator("#auto-restore-price")).to_have_text("(1 credit each)")
        page.goto(f"{engines_stack.base_url}/#/photos/{photo['id']}")
        page.wait_for_selector("#restore-engine option[value='probe']", state="attached")
        engine = page.locator("#restore-engine")
        assert engine.input_value() == "classic"  # the server's default
        catalogue = engines_stack.client.get(
            "/api/v1/engines", headers=engines_stack.auth(user_id)
        ).json()
        honoured = {e["name"]: set(e["options"]) for e in catalogue if e["kind"] == "restore"}
        assert "colorize" not in honoured["classic"]  # classic would ignore it
        assert honoured["probe"] == set(OPTIONS) and honoured["plain"] == set()
        for name in ("classic", "probe", "plain"):
            engine.select_option(name)
            assert visible_options(page) == {o: o in honoured[name] for o in OPTIONS}, name
            expect(page.locator("#restore-btn")).to_have_text("Restore · 1 credit")

        # What the page sends names only what the engine honours: classic gets no colorize.
        engine.select_option("probe")
        page.locator("#restore-colorize").check()
        engine.select_option("classic")
        with page.expect_request(f"**/photos/{photo['id']}/restore") as sent:
            page.locator("#restore-btn").click()
        body = json.loads(sent.value.post_data or "{}")
        assert body == {"engine": "classic", "denoise": 0.5}
        page.wait_for_selector("#attempts .attempt")
        expect(page.locator("#credits-count")).to_have_text("9")


def test_no_credits_left_says_who_to_ask(engines_stack: Stack, browser: Any) -> None:
    """Without billing, 0 credits shows who to ask instead of a Buy button that cannot work."""
    email = "spent@example.com"
    user_id = local_account(engines_stack, email)
    photo = engines_stack.upload(shared_photo(PHOTOS[1]), user=user_id)
    with session_scope(engines_stack.runtime.sessions) as session:
        charge(session, user_id, 10, reference="test:spend-all", reason="spent in a test")
    with browser_page(browser, **PHONE) as page:
        sign_in(page, engines_stack, email)
        expect(page.locator("#credits-count")).to_have_text("0")
        assert page.locator("#buy-credits").is_hidden()
        expect(page.locator("#credits-out")).to_contain_text("ask the operator")
        page.goto(f"{engines_stack.base_url}/#/photos/{photo['id']}")
        page.wait_for_selector("#compare[data-mode='original']")
        page.locator("#restore-btn").click()
        error = page.locator("#restore-error")
        expect(error).to_contain_text("Ask the operator of this Rekindle for more credits.")
        assert page.evaluate("document.documentElement.scrollWidth") <= 360


def _mask_of(request_body: dict[str, Any]) -> Image.Image:
    uri = request_body["mask"]
    assert uri.startswith("data:image/png;base64,")
    return Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))


@SIZES
def test_a_painted_mask_arrives_with_the_request(
    engines_stack: Stack, browser: Any, size: dict[str, Any]
) -> None:
    email = f"brush-{size['viewport']['width']}@example.com"
    user_id = local_account(engines_stack, email)
    photo = engines_stack.upload(shared_photo(PHOTOS[2]), user=user_id)
    with browser_page(browser, **size) as page:
        sign_in(page, engines_stack, email)
        page.goto(f"{engines_stack.base_url}/#/photos/{photo['id']}")
        page.wait_for_selector("#compare[data-mode='original']")
        page.wait_for_selector("#restore-engine option[value='probe']", state="attached")
        page.locator("#restore-engine").select_option("probe")
        page.get_by_role("button", name="Paint damage").click()
        page.wait_for_selector("#compare[data-mode='paint']")
        page.locator("#brush-size").fill("20")
        # A stroke across the upper part, a dab low on the right, then the dab is undone; a
        # second stroke is partly erased.
        _stroke(page, size, [(0.1, 0.25), (0.9, 0.25)])
        _stroke(page, size, [(0.8, 0.8), (0.8, 0.8)])
        page.get_by_role("button", name="Undo").click()
        _stroke(page, size, [(0.1, 0.6), (0.5, 0.6)])
        page.get_by_role("button", name="Eraser").click()
        page.locator("#brush-size").fill("40")
        _stroke(page, size, [(0.3, 0.6), (0.5, 0.6)])
        assert page.evaluate("window.__rekindle.maskStrokes") == 3
        expect(page.locator("#restore-btn")).to_have_text("Restore marked damage · 1 credit")

        with page.expect_response(f"**/photos/{photo['id']}/restore") as answered:
            page.locator("#restore-btn").click()
        assert answered.value.status == 202, answered.value.text()
        mask = _mask_of(json.loads(answered.value.request.post_data or "{}"))
        assert mask.size == (photo["width"], photo["height"])
        gray = mask.convert("L")
        w, h = mask.size

        def at(fx: float, fy: float) -> int:
            return int(gray.getpixel((int(w * fx), int(h * fy))))  # type: ignore[arg-type]

        assert at(0.5, 0.25) == 255 and at(0.15, 0.25) == 255  # painted
        assert at(0.5, 0.45) == 0 and at(0.05, 0.05) == 0  # untouched
        assert at(0.8, 0.8) == 0  # undone
        assert at(0.15, 0.6) == 255 and at(0.4, 0.6) == 0  # painted, then erased
        # The attempt the server recorded took the mask.
        attempt = answered.value.json()
        assert attempt["engine"] == "probe"
        stored = engines_stack.photo(photo["id"], user=user_id)["restore_attempts"][0]
        assert stored["id"] == attempt["id"]


def _stroke(page: Any, size: dict[str, Any], spots: list[tuple[float, float]]) -> None:
    """A brush stroke through `spots` (fractions of the picture): the mouse at 1280 px, a finger
    (touch pointer events) at 360."""
    canvas = page.locator("#mask-canvas")
    canvas.evaluate("c => c.scrollIntoView({block: 'center'})")
    box = canvas.bounding_box()
    assert box is not None
    points = [(box["x"] + box["width"] * fx, box["y"] + box["height"] * fy) for fx, fy in spots]
    if size is WIDE:
        page.mouse.move(*points[0])
        page.mouse.down()
        for x, y in points[1:]:
            page.mouse.move(x, y, steps=8)
        page.mouse.up()
        return
    page.locator("#mask-canvas").evaluate(
        """(c, points) => {
            const at = ([x, y], type) => c.dispatchEvent(new PointerEvent(type, {
                pointerId: 3, pointerType: 'touch', isPrimary: true, bubbles: true, button: 0,
                buttons: type === 'pointerup' ? 0 : 1, clientX: x, clientY: y }));
            at(points[0], 'pointerdown');
            for (let i = 1; i < points.length; i++) {
                const [a, b] = [points[i - 1], points[i]];
                for (let k = 1; k <= 8; k++) at([a[0] + (b[0] - a[0]) * k / 8,
                                                a[1] + (b[1] - a[1]) * k / 8], 'pointermove');
            }
            at(points[points.length - 1], 'pointerup');
        }""",
        [list(p) for p in points],
    )
