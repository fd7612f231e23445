"""The page's album view (issue 16, acceptance 1, in Chromium against a real stack with a worker):
a synthetic scan of three prints is dropped, its detected prints are drawn over it and adjusted
(a corner dragged with the mouse at 1280 px, with a finger at 360 px; a print added and removed),
cut into three photos, restored with one priced "Restore all" whose progress comes from the live
`batch` events, and downloaded with "Download all" as a ZIP of three restored images and
manifest.json. Also: a 402 shows the total and what to do, and a retried click reuses its
Idempotency-Key so the batch is charged once."""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import expect

from benchmarks.scans.synth import load_photos, make_scan
from rekindle.credits.ledger import charge, grant
from rekindle.db import session_scope
from rekindle.models import Photo
from tests.support.services import shared_photo
from tests.support.stack import Stack
from tests.web.conftest import local_account
from tests.web.test_page import browser_page, sign_in

API = "/api/v1"
PHONE = {"viewport": {"width": 360, "height": 740}, "is_mobile": True, "has_touch": True}

pytestmark = pytest.mark.photos


@pytest.fixture(scope="module")
def scan_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A black album page with three prints from ../shared/photos (cream borders, shadows,
    rotated up to 20°), as a PNG file."""
    shared_photo("real-old")  # skips, saying why, when the shared photos are absent
    rng = np.random.default_rng(3)
    scan = make_scan(rng, load_photos(), count=3, kind="black_page", size=(900, 1150), max_angle=20)
    assert len(scan.quads) == 3
    path = tmp_path_factory.mktemp("scan") / "album-page.png"
    Image.fromarray(scan.rgb).save(path, format="PNG")
    return path


def _quads(page: Any) -> list[list[list[float]]]:
    """The corners the page holds, read from the handles drawn over the scan (scan pixels)."""
    return page.evaluate(  # type: ignore[no-any-return]
        """() => [...document.querySelectorAll('#scan-svg .scan-print')].map(g =>
            [...g.querySelectorAll('circle')].map(c => [Number(c.getAttribute('cx')),
                                                       Number(c.getAttribute('cy'))]))"""
    )


def _open_new_album(page: Any, name: str) -> None:
    page.get_by_role("link", name="Albums").click()
    page.get_by_label("New album").fill(name)
    page.get_by_role("button", name="Create album").click()
    expect(page.locator("#album-title")).to_have_text(name)


def _drop_scan(page: Any, scan_file: Path) -> None:
    page.set_input_files("#scan-input", str(scan_file))
    expect(page.locator("#scan-editor")).to_be_visible(timeout=30_000)
    expect(page.locator("#scan-svg .scan-print")).to_have_count(3)
    expect(page.locator("#scan-confirm")).to_have_text("Make 3 photos")


def _album_photos(stack: Stack, user_id: str, album_id: str) -> list[dict[str, Any]]:
    body = stack.client.get(f"{API}/albums/{album_id}", headers=stack.auth(user_id)).json()
    return body["items"]  # type: ignore[no-any-return]


def _source_quads(stack: Stack, photos: list[dict[str, Any]]) -> list[Any]:
    """The quads the photos were cut from (`metadata.source_scan`, read from the database)."""
    with session_scope(stack.runtime.sessions) as session:
        return [
            session.get(Photo, uuid.UUID(p["id"])).metadata_json["source_scan"]["quad"]
            for p in photos
        ]


def test_scan_adjusted_split_restored_all_and_downloaded(
    web_stack: Stack, browser: Any, scan_file: Path, tmp_path: Path
) -> None:
    email = "album-page@example.com"
    user_id = local_account(web_stack, email)
    batch_requests: list[Any] = []
    with browser_page(browser) as page:
        page.on("request", lambda r: r.url.endswith("/restore-batch") and batch_requests.append(r))
        sign_in(page, web_stack, email)
        _open_new_album(page, "Grandma")
        album_id = page.url.rsplit("/", 1)[1]
        _drop_scan(page, scan_file)
        before = _quads(page)

        # Drag the first print's top-left corner 12 screen pixels right and down, with the mouse.
        handle = page.locator('#scan-svg circle[data-print="0"][data-corner="0"]')
        handle.scroll_into_view_if_needed()
        box = handle.bounding_box()
        assert box is not None
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        page.mouse.move(x, y)
        page.mouse.down()
        page.mouse.move(x + 6, y + 6, steps=3)
        page.mouse.move(x + 12, y + 12, steps=3)
        page.mouse.up()
        after = _quads(page)
        moved = after[0][0]
        assert moved[0] > before[0][0][0] + 5 and moved[1] > before[0][0][1] + 5
        assert after[1:] == before[1:] and after[0][1:] == before[0][1:]
        # The keyboard moves a focused corner too.
        handle.focus()
        page.keyboard.press("ArrowLeft")
        nudged = _quads(page)[0][0]
        assert nudged[0] < moved[0] and nudged[1] == moved[1]

        # Add a print, then remove it: back to three.
        page.get_by_role("button", name="Add a print").click()
        expect(page.locator("#scan-svg .scan-print")).to_have_count(4)
        expect(page.locator("#scan-confirm")).to_have_text("Make 4 photos")
        page.get_by_role("button", name="Remove print 4").click()
        expect(page.locator("#scan-svg .scan-print")).to_have_count(3)

        page.get_by_role("button", name="Make 3 photos").click()
        expect(page.locator("#album-photos .card")).to_have_count(3, timeout=30_000)
        expect(page.locator("#scan-editor")).to_be_hidden()
        photos = _album_photos(web_stack, user_id, album_id)
        assert len(photos) == 3
        # The edited corner is the one the photo was cut from.
        cut = _source_quads(web_stack, photos)
        assert any(np.allclose(quad[0], nudged, atol=1.5) for quad in cut), (cut, nudged)

        # Restore all with the album bar's options: the price first, then one request with an
        # Idempotency-Key.
        page.locator("#album-engine").select_option("classic")
        page.locator("#album-denoise").fill("0.8")
        expect(page.locator("#album-denoise-value")).to_have_text("0.80")
        restore = page.locator("#album-restore")
        expect(restore).to_have_text("Restore all (3) · 3 credits")
        restore.click()
        quote = page.locator("#batch-dialog")
        expect(quote).to_contain_text("Restoring 3 photos costs 3 credits. You have 10 credits.")
        quote.get_by_role("button", name="Restore all · 3 credits").click()
        status = page.locator("#album-status")
        expect(status).to_have_text("3 photos: 3 restored, 0 failed.", timeout=120_000)
        expect(page.locator("#album-progress")).to_have_attribute("value", "3")
        assert len(batch_requests) == 1
        assert batch_requests[0].headers.get("idempotency-key")
        assert batch_requests[0].post_data_json["options"] == {"engine": "classic", "denoise": 0.8}
        # The progress came from the live stream's batch events. Two attempts finishing at once
        # may publish their counts out of order (docs/albums.md), so the done event need not be
        # the last one received; the page keeps the highest counts.
        events = page.evaluate("window.__rekindle.events.filter(e => e.type === 'batch')")
        assert any(e["done"] and e["completed"] == 3 for e in events), events
        expect(page.locator("#album-photos .card[data-status='ready']")).to_have_count(
            3, timeout=30_000
        )
        expect(page.locator("#credits-count")).to_have_text("7")

        # Download all: one ZIP with three restored images and the manifest, streamed by the
        # browser from a one-time ticket URL (not assembled in page memory as a blob).
        with page.expect_download() as download_info:
            page.get_by_role("button", name="Download all").click()
        download = download_info.value
        assert download.suggested_filename == "Grandma.zip"
        assert "/api/v1/exports/" in download.url, download.url
        saved = tmp_path / "album.zip"
        download.save_as(saved)
    with zipfile.ZipFile(saved) as archive:
        names = archive.namelist()
        restored = [n for n in names if n.endswith("-restored.jpg")]
        assert len(restored) == 3 and "manifest.json" in names, names
        for name in restored:
            with Image.open(io.BytesIO(archive.read(name))) as image:
                assert image.format == "JPEG" and min(image.size) > 64
        manifest = json.loads(archive.read("manifest.json"))
        assert len(manifest["photos"]) == 3


def test_phone_touch_drag_and_split(web_stack: Stack, browser: Any, scan_file: Path) -> None:
    email = "album-phone@example.com"
    user_id = local_account(web_stack, email)
    with browser_page(browser, **PHONE) as page:
        sign_in(page, web_stack, email)
        _open_new_album(page, "On the phone")
        album_id = page.url.rsplit("/", 1)[1]
        _drop_scan(page, scan_file)
        handle = page.locator('#scan-svg circle[data-print="1"][data-corner="2"]')
        handle.scroll_into_view_if_needed()
        assert handle.evaluate("h => getComputedStyle(h).touchAction") == "none"
        box = handle.bounding_box()
        assert box is not None and box["width"] >= 30  # a finger-sized target
        before = _quads(page)
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        handle.evaluate(
            """(h, [x, y]) => {
                const at = (type, dx, dy) => h.dispatchEvent(new PointerEvent(type, {
                    pointerId: 9, pointerType: 'touch', isPrimary: true, bubbles: true,
                    button: 0, buttons: type === 'pointerup' ? 0 : 1,
                    clientX: x + dx, clientY: y + dy }));
                at('pointerdown', 0, 0);
                for (let i = 1; i <= 5; i++) at('pointermove', -2 * i, -2 * i);
                at('pointerup', -10, -10);
            }""",
            [x, y],
        )
        after = _quads(page)
        assert after[1][2][0] < before[1][2][0] - 5 and after[1][2][1] < before[1][2][1] - 5
        assert after[0] == before[0] and after[2] == before[2]
        # Nothing scrolls sideways at 360 px.
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        page.get_by_role("button", name="Make 3 photos").click()
        expect(page.locator("#album-photos .card")).to_have_count(3, timeout=30_000)
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        expect(page.locator("#album-restore")).to_have_text("Restore all (3) · 3 credits")
    photos = _album_photos(web_stack, user_id, album_id)
    cut = _source_quads(web_stack, photos)
    assert any(np.allclose(quad[2], after[1][2], atol=1.5) for quad in cut), (cut, after[1][2])


def test_short_balance_says_the_total_then_a_retry_reuses_its_key(
    web_stack: Stack, browser: Any, scan_file: Path
) -> None:
    email = "album-402@example.com"
    user_id = local_account(web_stack, email)
    headers = web_stack.auth(user_id)
    album_id = web_stack.client.post(f"{API}/albums", json={"name": "Short"}, headers=headers)
    album_id = album_id.json()["id"]
    with scan_file.open("rb") as handle:
        made = web_stack.client.post(
            f"{API}/scans",
            headers=headers,
            data={"album_id": album_id},
            files={"file": ("page.png", handle, "image/png")},
        )
    assert made.status_code == 201 and len(made.json()["photos"]) == 3
    with session_scope(web_stack.runtime.sessions) as session:
        charge(session, user_id, 8, reference="test:album-short", reason="spent in a test")
    keys: list[str] = []
    with browser_page(browser) as page:
        sign_in(page, web_stack, email)
        page.goto(f"{web_stack.base_url}/#/albums/{album_id}")
        restore = page.locator("#album-restore")
        expect(restore).to_have_text("Restore all (3) · 3 credits")
        restore.click()
        page.locator("#batch-dialog").get_by_role("button", name="Restore all · 3 credits").click()
        status = page.locator("#album-status")
        expect(status).to_contain_text("Restoring this album costs 3 credits; you have 2 credits.")
        expect(status).to_contain_text("Ask the operator")
        with session_scope(web_stack.runtime.sessions) as session:
            grant(session, user_id, 5, reference="test:album-more", reason="more")

        # The answer is lost on the way back (the server did accept and charge): Retry sends
        # the same key and gets the same answer, charged once.
        lost = {"done": False}

        def lose_first_answer(route: Any) -> None:
            keys.append(route.request.headers.get("idempotency-key", ""))
            if not lost["done"]:
                lost["done"] = True
                route.fetch()
                route.abort("connectionreset")
            else:
                route.continue_()

        page.route("**/api/v1/photos/restore-batch", lose_first_answer)
        restore.click()
        page.locator("#batch-dialog").get_by_role("button", name="Restore all · 3 credits").click()
        expect(status).to_contain_text("cannot be reached")
        status.get_by_role("button", name="Retry").click()
        expect(status).to_have_text("3 photos: 3 restored, 0 failed.", timeout=120_000)
        expect(page.locator("#credits-count")).to_have_text("4")
    assert len(keys) == 2 and keys[0] and keys[0] == keys[1]


def test_a_tiff_scan_is_drawn_in_the_editor(
    web_stack: Stack, browser: Any, scan_file: Path, tmp_path: Path
) -> None:
    """Chromium cannot show a TIFF: the editor draws the scan's JPEG display copy instead."""
    tiff = tmp_path / "album-page.tiff"
    with Image.open(scan_file) as image:
        image.save(tiff, format="TIFF")
    email = "album-tiff@example.com"
    local_account(web_stack, email)
    with browser_page(browser) as page:
        sign_in(page, web_stack, email)
        _open_new_album(page, "Tiff")
        _drop_scan(page, tiff)
        drawn = page.evaluate(
            """async () => {
                const href = document.querySelector('#scan-svg image').getAttribute('href');
                const blob = await (await fetch(href)).blob();
                try {
                    const bitmap = await createImageBitmap(blob);
                    return [bitmap.width, bitmap.height];
                } catch (error) {
                    return null;
                }
            }"""
        )
        assert drawn == [900, 1150], drawn  # decoded by the browser, at the scan's size
