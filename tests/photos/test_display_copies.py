"""Every upload gets a JPEG display copy (`original_display_url`): HEIC and TIFF originals, which
browsers cannot show, have a "before" side; the original stays untouched; the copy goes with the
photo. On the embedded stack and on PostgreSQL + Redis + S3."""

from __future__ import annotations

import io
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from rekindle.imaging import register_heif
from rekindle.storage import keys
from tests.support.stack import Stack


def _picture(width: int, height: int) -> Image.Image:
    y, x = np.mgrid[0:height, 0:width]
    arr = np.stack([(x * 255 // width), (y * 255 // height), np.full_like(x, 90)], axis=-1)
    img = Image.fromarray(arr.astype(np.uint8), "RGB")
    img.paste((255, 0, 0), (0, 0, width // 4, height // 4))  # a red top-left corner
    return img


def _write(tmp_path: Path, name: str, img: Image.Image, fmt: str, **params: object) -> Path:
    register_heif()
    path = tmp_path / name
    img.save(path, format=fmt, **params)
    return path


def _get(url: str) -> httpx.Response:
    response = httpx.get(url, timeout=30)
    assert response.status_code == 200, response.text
    return response


@pytest.mark.parametrize(
    ("name", "fmt", "size", "shown"),
    [
        ("scan.heic", "HEIF", (1200, 800), (1200, 800)),
        ("scan.tiff", "TIFF", (3000, 2000), (2560, 1707)),
    ],
)
def test_heic_and_tiff_originals_get_a_jpeg_display_copy(
    stack: Stack, tmp_path: Path, name: str, fmt: str, size: tuple[int, int], shown: tuple[int, int]
) -> None:
    path = _write(tmp_path, name, _picture(*size), fmt)
    photo = stack.upload(path)
    assert photo["original_display_url"] and photo["original_display_url"] != photo["original_url"]
    display = _get(photo["original_display_url"])
    assert "attachment" not in display.headers.get("content-disposition", "")
    with Image.open(io.BytesIO(display.content)) as img:
        assert img.format == "JPEG" and img.mode == "RGB"
        assert img.size == shown
        red = img.getpixel((10, 10))
        assert red[0] > 200 and red[1] < 60
    # The original is kept byte for byte and still downloads as itself.
    assert _get(photo["original_url"]).content == path.read_bytes()
    # Listed photos carry it too.
    listed = stack.client.get("/api/v1/photos", headers=stack.auth()).json()["items"]
    assert any(p["id"] == photo["id"] and p["original_display_url"] for p in listed)

    # The copy lives beside the original and goes with the photo.
    user_id = "alice"
    display_key = keys.display_key(user_id, photo["id"])  # type: ignore[arg-type]
    assert display_key in stack.object_keys()
    deleted = stack.client.delete(f"/api/v1/photos/{photo['id']}", headers=stack.auth())
    assert deleted.status_code == 204
    assert not [k for k in stack.object_keys() if photo["id"] in k]


def test_exif_rotated_jpeg_display_copy_is_upright(stack: Stack, tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # stored landscape, shown rotated 90° clockwise
    path = _write(tmp_path, "phone.jpg", _picture(800, 400), "JPEG", quality=95, exif=exif)
    photo = stack.upload(path)
    with Image.open(io.BytesIO(_get(photo["original_display_url"]).content)) as img:
        assert img.size == (400, 800)
        corner = img.getpixel((400 - 10, 10))  # the red top-left corner is now top-right
        assert corner[0] > 200 and corner[1] < 60
