"""A scan gets a JPEG display copy (`display_url`) for the crop editor: a HEIC or TIFF scan, which
browsers cannot show, is drawn too, and a large scan is not sent whole to the page. The copy goes
with the scan. On the embedded stack and on PostgreSQL + Redis + S3."""

from __future__ import annotations

import io

import httpx
import numpy as np
import pytest
from PIL import Image

from rekindle.imaging import register_heif
from tests.credits.helpers import new_user
from tests.support.stack import Stack


def _scan_bytes(fmt: str, size: tuple[int, int]) -> bytes:
    width, height = size
    y, x = np.mgrid[0:height, 0:width]
    pixels = np.stack([x * 255 // width, y * 255 // height, np.full_like(x, 90)], axis=-1)
    image = Image.fromarray(pixels.astype(np.uint8), "RGB")
    image.paste((255, 0, 0), (0, 0, width // 4, height // 4))  # a red top-left corner
    register_heif()
    out = io.BytesIO()
    image.save(out, format=fmt)
    return out.getvalue()


@pytest.mark.parametrize(
    ("name", "fmt", "mime", "size", "shown"),
    [
        ("page.tiff", "TIFF", "image/tiff", (3000, 2000), (2560, 1707)),
        ("page.heic", "HEIF", "image/heic", (900, 600), (900, 600)),
    ],
)
def test_a_scan_gets_a_jpeg_display_copy_that_goes_with_it(
    stack: Stack,
    name: str,
    fmt: str,
    mime: str,
    size: tuple[int, int],
    shown: tuple[int, int],
) -> None:
    user = new_user(stack, "scan-display")
    response = stack.client.post(
        "/api/v1/scans",
        params={"preview": "true"},
        headers=stack.auth(user),
        files={"file": (name, _scan_bytes(fmt, size), mime)},
    )
    assert response.status_code == 201, response.text
    scan = response.json()
    assert (scan["width"], scan["height"]) == size
    assert scan["display_url"] != scan["scan_url"]

    display = httpx.get(scan["display_url"], timeout=30)
    assert display.status_code == 200
    with Image.open(io.BytesIO(display.content)) as image:
        assert image.format == "JPEG" and image.size == shown
        red = image.getpixel((10, 10))
        assert red[0] > 200 and red[1] < 60  # upright, colours kept
    original = httpx.get(scan["scan_url"], timeout=30)
    assert original.status_code == 200 and original.content[:4] != b"\xff\xd8\xff\xe0"

    scan_keys = [k for k in stack.object_keys() if k.startswith(f"users/{user}/scans/")]
    assert len(scan_keys) == 2, scan_keys
    deleted = stack.client.delete(f"/api/v1/scans/{scan['id']}", headers=stack.auth(user))
    assert deleted.status_code == 204
    assert not [k for k in stack.object_keys() if k.startswith(f"users/{user}/scans/")]
