"""Thumbnails: upright RGB JPEGs, longest side `size`, never upscaled, any accepted format."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from rekindle.errors import InvalidImage, UnsupportedMediaType
from rekindle.imaging import make_thumbnail

RED, BLUE, WHITE = (255, 0, 0), (0, 0, 255), (255, 255, 255)


def thumbnail_of(images, data: bytes, **kwargs) -> Image.Image:
    img = images.decode(make_thumbnail(data, **kwargs))
    assert img.format == "JPEG"
    assert img.mode == "RGB"
    return img


@pytest.mark.parametrize(
    ("size", "expected"),
    [((1600, 1200), (400, 300)), ((900, 1800), (200, 400)), ((4000, 100), (400, 10))],
)
def test_longest_side_is_400(images, size, expected):
    data = images.encode(images.photo_like(*size), "JPEG", quality=85)
    assert thumbnail_of(images, data).size == expected


def test_size_parameter(images):
    data = images.encode(images.photo_like(1000, 500), "PNG")
    assert thumbnail_of(images, data, size=128).size == (128, 64)


def test_small_images_are_not_upscaled(images):
    data = images.encode(images.photo_like(120, 90), "PNG")
    assert thumbnail_of(images, data).size == (120, 90)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "HEIF", "WEBP", "TIFF"])
def test_every_accepted_format(images, fmt):
    source = images.with_marker((800, 600), marker=RED, marker_size=400)
    thumb = thumbnail_of(images, images.encode(source, fmt))
    assert thumb.size == (400, 300)
    assert images.close_to(images.channels(thumb, (50, 50)), RED, 16)
    assert images.close_to(images.channels(thumb, (350, 250)), BLUE, 16)


def test_exif_orientation_is_applied(images):
    stored = images.with_marker((800, 400), marker=RED, marker_size=100)
    data = images.encode(stored, "JPEG", quality=95, exif=images.exif_with_orientation(6))
    thumb = thumbnail_of(images, data)
    assert thumb.size == (200, 400)
    # Orientation 6 turns the stored picture 90° clockwise: its top-left corner goes top-right.
    assert images.close_to(images.channels(thumb, (200 - 10, 10)), RED, 20)
    assert images.close_to(images.channels(thumb, (10, 10)), BLUE, 20)


def test_alpha_is_flattened_on_white(images):
    source = Image.new("RGBA", (800, 400), (0, 0, 0, 0))
    source.paste((255, 0, 0, 255), (400, 0, 800, 400))
    thumb = thumbnail_of(images, images.encode(source, "PNG"))
    assert images.close_to(images.channels(thumb, (100, 100)), WHITE, 3)
    assert images.close_to(images.channels(thumb, (300, 100)), RED, 10)


@pytest.mark.parametrize("mode", ["L", "LA", "I;16"])
def test_gray_stays_gray(images, mode):
    source = images.photo_like(640, 480).convert("L")
    if mode == "I;16":
        source = Image.fromarray(np.asarray(source).astype(np.uint16) * 257)
    else:
        source = source.convert(mode)
    arr = np.asarray(thumbnail_of(images, images.encode(source, "PNG"))).astype(int)
    assert np.array_equal(arr[..., 0], arr[..., 1])
    assert np.array_equal(arr[..., 1], arr[..., 2])
    assert arr.mean() > 60  # 16-bit gray scaled, not clipped to white or black


def test_large_jpeg_thumbnail_matches_a_plain_resample(images):
    data = images.encode(images.photo_like(3200, 2400, seed=5), "JPEG", quality=90)
    reference = images.decode(data).resize((400, 300), Image.Resampling.LANCZOS)
    assert images.psnr(thumbnail_of(images, data), reference) > 30


def test_thumbnail_is_small(images):
    data = images.encode(images.photo_like(2000, 1500), "JPEG", quality=95)
    assert len(make_thumbnail(data)) < 60_000


def test_errors(images):
    with pytest.raises(UnsupportedMediaType):
        make_thumbnail(b"%PDF-1.4 not an image")
    data = images.encode(images.photo_like(300, 200), "PNG")
    with pytest.raises(InvalidImage) as caught:
        make_thumbnail(data[: len(data) // 2])
    assert caught.value.code == "corrupt_image"
