"""User-painted damage masks (issue 11, "User-guided repair"): read from a data URI, normalized,
and fitted to the image an engine is given.

A mask arrives in a restore request as `data:image/png;base64,...`. White (bright) pixels mark
damage; a transparent pixel is never damage, whatever its colour. It may be any size: it is
scaled to the preprocessed photo at the worker (`fit_mask`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import re
import warnings
from dataclasses import dataclass

from PIL import Image, ImageChops

from rekindle.errors import Unprocessable

MAX_MASK_BYTES = 10 * 1024 * 1024
"""Largest decoded mask PNG, bytes."""
MAX_MASK_SIDE = 20_000
"""Longest side a mask may have, pixels (a larger one is not a hand-painted mask)."""
MAX_MASK_PIXELS = 60_000_000
"""Width × height above this is refused before the pixels are decoded (decompression bombs)."""
THRESHOLD = 128
"""A pixel whose gray level (alpha-weighted) is at least this is damage."""

_DATA_URI = re.compile(r"^data:image/png(?:;[^,;]*)*;base64,", re.IGNORECASE)
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class Mask:
    """A validated mask. `png`: 8-bit gray PNG, 0 (keep) or 255 (damage), at its own size;
    `width`, `height`: pixels; `damaged_fraction`: share of damage pixels, 0.0-1.0;
    `sha256`: hex digest of `png`."""

    png: bytes
    width: int
    height: int
    damaged_fraction: float
    sha256: str

    def record(self, key: str) -> dict[str, object]:
        """The attempt's `params["request"]["mask"]` entry."""
        return {
            "key": key,
            "width": self.width,
            "height": self.height,
            "damaged_fraction": round(self.damaged_fraction, 6),
            "sha256": self.sha256,
        }


def _refuse(code: str, message: str) -> Unprocessable:
    return Unprocessable(message, code=code)


def decode_mask_data_uri(text: str) -> Mask:
    """Read a `data:image/png;base64,...` mask and normalize it to a binary 8-bit gray PNG.

    Alpha, when present, multiplies the gray level (a transparent pixel is not damage). Raises
    Unprocessable (422) with a stable code: `mask_not_data_uri` (not a base64 PNG data URI),
    `mask_too_large` (over `MAX_MASK_BYTES` decoded), `mask_not_png` (the bytes are not a PNG),
    `mask_undecodable` (a PNG that cannot be decoded), `mask_dimensions_invalid` (a side over
    `MAX_MASK_SIDE` or more than `MAX_MASK_PIXELS` pixels).
    """
    match = _DATA_URI.match(text)
    if match is None:
        raise _refuse(
            "mask_not_data_uri", "The mask must be a PNG data URI: data:image/png;base64,..."
        )
    payload = text[match.end() :]
    # Base64 is 4/3 the size of its bytes: refuse an oversized mask before decoding it.
    if len(payload) > (MAX_MASK_BYTES + 2) // 3 * 4 + 4:
        raise _refuse("mask_too_large", "The mask is larger than the 10 MB limit.")
    try:
        data = base64.b64decode("".join(payload.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise _refuse("mask_not_data_uri", "The mask's base64 data is not valid.") from exc
    if len(data) > MAX_MASK_BYTES:
        raise _refuse("mask_too_large", "The mask is larger than the 10 MB limit.")
    if not data.startswith(_PNG_SIGNATURE):
        raise _refuse("mask_not_png", "The mask must be a PNG image.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=["PNG"]) as image:
                width, height = image.size
                if (
                    max(width, height) > MAX_MASK_SIDE
                    or width * height > MAX_MASK_PIXELS
                    or min(width, height) < 1
                ):
                    raise _refuse(
                        "mask_dimensions_invalid",
                        f"A mask may be at most {MAX_MASK_SIDE} pixels a side and "
                        f"{MAX_MASK_PIXELS // 1_000_000} megapixels; this one is "
                        f"{width}×{height}.",
                    )
                image.load()
                gray = _damage_levels(image)
    except Unprocessable:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _refuse("mask_dimensions_invalid", "The mask has too many pixels.") from exc
    except Exception as exc:  # Pillow raises many types for a broken PNG (OSError, SyntaxError...)
        raise _refuse("mask_undecodable", "The mask PNG could not be decoded.") from exc
    binary = gray.point(lambda level: 255 if level >= THRESHOLD else 0)
    histogram = binary.histogram()
    out = io.BytesIO()
    binary.save(out, "PNG", optimize=True)
    png = out.getvalue()
    return Mask(
        png=png,
        width=width,
        height=height,
        damaged_fraction=histogram[255] / (width * height),
        sha256=hashlib.sha256(png).hexdigest(),
    )


def _damage_levels(image: Image.Image) -> Image.Image:
    """The image as 8-bit gray ("L"), its alpha (if any) multiplied in."""
    if image.mode.startswith("I"):  # 16-bit gray: keep the top 8 bits
        image = image.convert("I").point(lambda value: value * (1 / 256)).convert("L")
    if "A" in image.getbands() or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        gray = rgba.convert("L")
        return ImageChops.multiply(gray, rgba.getchannel("A"))
    return image.convert("L")


def fit_mask(png: bytes, size: tuple[int, int]) -> bytes:
    """Scale a stored mask (a `Mask.png`) to `size` = (width, height) pixels, the preprocessed
    image's: area sampling (BOX), and any covered output pixel is damage, so a one-pixel scratch
    survives a large reduction. Returns an 8-bit gray PNG of values 0 and 255."""
    with Image.open(io.BytesIO(png)) as image:
        gray = image.convert("L")
    if gray.size != size:
        gray = gray.resize(size, Image.Resampling.BOX)
    binary = gray.point(lambda level: 255 if level > 0 else 0)
    out = io.BytesIO()
    binary.save(out, "PNG")
    return out.getvalue()
