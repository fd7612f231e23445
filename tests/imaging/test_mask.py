"""Damage masks: reading the data URI (every refusal has its code) and fitting to the image."""

from __future__ import annotations

import base64
import io

import pytest
from PIL import Image

from rekindle.errors import Unprocessable
from rekindle.imaging.mask import MAX_MASK_BYTES, decode_mask_data_uri, fit_mask


def _uri(image: Image.Image, mime: str = "image/png") -> str:
    out = io.BytesIO()
    image.save(out, "PNG")
    return f"data:{mime};base64," + base64.b64encode(out.getvalue()).decode()


def _levels(png: bytes) -> tuple[tuple[int, int], list[int]]:
    with Image.open(io.BytesIO(png)) as image:
        assert image.mode == "L"
        return image.size, image.histogram()


def test_white_is_damage_transparent_is_not() -> None:
    rgba = Image.new("RGBA", (10, 10), (255, 255, 255, 0))  # white but fully transparent
    rgba.putpixel((2, 3), (255, 255, 255, 255))
    rgba.putpixel((4, 4), (90, 90, 90, 255))  # dark: below the threshold
    mask = decode_mask_data_uri(_uri(rgba))
    size, histogram = _levels(mask.png)
    assert size == (10, 10) and histogram[255] == 1 and histogram[0] == 99
    assert mask.damaged_fraction == pytest.approx(0.01)
    assert len(mask.sha256) == 64


def test_sixteen_bit_and_palette_masks_are_read() -> None:
    assert decode_mask_data_uri(_uri(Image.new("I;16", (4, 4), 65535))).damaged_fraction == 1
    palette = Image.new("P", (4, 4), 0)
    palette.putpalette([0, 0, 0, 255, 255, 255])
    palette.putpixel((0, 0), 1)
    assert decode_mask_data_uri(_uri(palette)).damaged_fraction == pytest.approx(1 / 16)


def test_parameters_and_whitespace_in_the_data_uri_are_accepted() -> None:
    uri = _uri(Image.new("L", (3, 3), 255))
    payload = uri.split(",", 1)[1]
    spaced = f"data:image/png;name=mask.png;base64,{payload[:8]}\n{payload[8:]}"
    assert decode_mask_data_uri(spaced).damaged_fraction == 1


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "mask_not_data_uri"),
        ("data:image/png,plain", "mask_not_data_uri"),
        ("data:image/png;base64,a", "mask_not_data_uri"),
        ("data:image/png;base64," + base64.b64encode(b"GIF89a....").decode(), "mask_not_png"),
        (
            "data:image/png;base64," + base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 64).decode(),
            "mask_undecodable",
        ),
        ("data:image/png;base64," + "A" * (MAX_MASK_BYTES * 4 // 3 + 8), "mask_too_large"),
    ],
)
def test_refusals_have_stable_codes(text: str, code: str) -> None:
    with pytest.raises(Unprocessable) as refused:
        decode_mask_data_uri(text)
    assert refused.value.code == code and refused.value.status == 422


def test_truncated_png_is_undecodable() -> None:
    out = io.BytesIO()
    Image.effect_noise((64, 64), 60).save(out, "PNG")
    cut = out.getvalue()[: len(out.getvalue()) // 2]
    with pytest.raises(Unprocessable) as refused:
        decode_mask_data_uri("data:image/png;base64," + base64.b64encode(cut).decode())
    assert refused.value.code == "mask_undecodable"


def test_absurd_dimensions_are_refused_before_decoding() -> None:
    with pytest.raises(Unprocessable) as refused:
        decode_mask_data_uri(_uri(Image.new("1", (1, 20_001))))
    assert refused.value.code == "mask_dimensions_invalid"


def test_fit_keeps_a_thin_scratch_through_a_large_reduction() -> None:
    big = Image.new("L", (1200, 800), 0)
    for y in range(800):
        big.putpixel((601, y), 255)  # one pixel wide
    fitted = fit_mask(decode_mask_data_uri(_uri(big)).png, (150, 100))
    size, histogram = _levels(fitted)
    assert size == (150, 100)
    assert histogram[255] == 100 and histogram[0] == 150 * 100 - 100  # one full column
    assert sum(histogram[1:255]) == 0


def test_fit_enlarges_without_blurring() -> None:
    small = Image.new("L", (4, 2), 0)
    small.putpixel((1, 0), 255)
    fitted = fit_mask(decode_mask_data_uri(_uri(small)).png, (40, 20))
    with Image.open(io.BytesIO(fitted)) as image:
        assert image.getpixel((15, 5)) == 255 and image.getpixel((25, 5)) == 0
        assert image.getpixel((15, 15)) == 0
        assert sum(image.histogram()[1:255]) == 0
