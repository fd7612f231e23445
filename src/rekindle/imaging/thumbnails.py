"""Thumbnails: small upright sRGB JPEGs for lists and before/after views."""

from __future__ import annotations

import io

from rekindle.imaging.decode import open_image, render

THUMBNAIL_QUALITY = 85
# Pillow's own default for Image.thumbnail: decode/reduce by integer factors while the rest of
# the reduction is at least 2×, then LANCZOS; visually the same as a plain LANCZOS resize.
_REDUCING_GAP = 2.0


def make_thumbnail(data: bytes, *, size: int = 400, max_decode_bytes: int | None = None) -> bytes:
    """A JPEG thumbnail (quality 85) of the image in `data` whose longest side is `size` pixels.

    Accepts every accepted upload format (HEIC included). The EXIF orientation is applied, the
    result is RGB in sRGB (alpha flattened on white, embedded ICC profiles converted; gray stays
    R = G = B), and it is never upscaled: an image already within `size` keeps its dimensions.
    JPEG inputs are decoded at reduced scale by libjpeg (`Image.draft`) when they are large.

    Raises `UnsupportedMediaType` for data in other formats and `InvalidImage` when it does not
    decode, or would take more than `max_decode_bytes` bytes to (None: no bound).
    """
    if size < 1:
        raise ValueError("size must be at least 1 pixel")
    with open_image(data) as img:
        thumb, _, _ = render(
            img, max_side=size, reducing_gap=_REDUCING_GAP, max_bytes=max_decode_bytes
        )
    out = io.BytesIO()
    thumb.save(out, format="JPEG", quality=THUMBNAIL_QUALITY, optimize=True)
    return out.getvalue()
