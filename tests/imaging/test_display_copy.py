"""Display copies: a baseline JPEG every browser shows, long side <= 2560, upright, sRGB, from every
accepted format (HEIC and TIFF included)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from rekindle.errors import InvalidImage, UnsupportedMediaType
from rekindle.imaging import make_display_copy

RED, BLUE = (255, 0, 0), (0, 0, 255)


def shown(images, data: bytes, **kwargs) -> Image.Image:
    img = images.decode(make_display_copy(data, **kwargs))
    assert img.format == "JPEG" and img.mode == "RGB"
    assert "icc_profile" not in img.info  # plain sRGB, as browsers assume untagged JPEG is
    return img


@pytest.mark.parametrize("fmt", ["HEIF", "TIFF", "JPEG", "PNG", "WEBP"])
def test_every_accepted_format_becomes_a_jpeg(images, fmt):
    source = images.with_marker((900, 600), marker=RED, marker_size=300)
    img = shown(images, images.encode(source, fmt))
    assert img.size == (900, 600)  # within 2560: never upscaled, never shrunk
    assert images.close_to(images.channels(img, (100, 100)), RED, 16)
    assert images.close_to(images.channels(img, (800, 500)), BLUE, 16)


@pytest.mark.parametrize(
    ("size", "expected"), [((3840, 2400), (2560, 1600)), ((1000, 4000), (640, 2560))]
)
def test_long_side_is_at_most_2560(images, size, expected):
    data = images.encode(images.photo_like(*size), "TIFF")
    img = shown(images, data)
    assert img.size == expected
    reference = images.photo_like(*size).resize(expected, Image.Resampling.LANCZOS)
    assert images.psnr(img, reference) > 30


def test_exif_orientation_is_applied(images):
    stored = images.with_marker((800, 400), marker=RED, marker_size=100)
    data = images.encode(stored, "JPEG", quality=95, exif=images.exif_with_orientation(6))
    img = shown(images, data)
    assert img.size == (400, 800)
    # Orientation 6 turns the stored picture 90° clockwise: its top-left corner goes top-right.
    assert images.close_to(images.channels(img, (400 - 20, 20)), RED, 20)
    assert images.close_to(images.channels(img, (20, 20)), BLUE, 20)


@pytest.mark.parametrize("fmt", ["TIFF", "HEIF"])
def test_embedded_icc_profile_is_converted_to_srgb(images, fmt):
    source = Image.new("RGB", (300, 200), RED)
    data = images.encode(source, fmt, icc_profile=images.swapped_primaries_icc())
    # Red pixels tagged with a profile whose red is sRGB blue are blue once converted.
    assert images.close_to(images.channels(shown(images, data), (150, 100)), BLUE, 40)


def test_16_bit_tiff_is_scaled_not_clipped(images):
    gray = np.asarray(images.photo_like(640, 480).convert("L")).astype(np.uint16) * 257
    data = images.encode(Image.fromarray(gray), "TIFF")
    arr = np.asarray(shown(images, data)).astype(int)
    assert np.array_equal(arr[..., 0], arr[..., 2])
    assert 60 < arr.mean() < 200


def test_errors(images):
    with pytest.raises(UnsupportedMediaType):
        make_display_copy(b"GIF89a" + b"\0" * 100)
    with pytest.raises(InvalidImage):
        make_display_copy(images.encode(images.photo_like(400, 300), "JPEG")[:600])
    with pytest.raises(ValueError):
        make_display_copy(images.encode(images.photo_like(10, 10), "PNG"), max_side=0)
