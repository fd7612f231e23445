"""Display copies: a JPEG every browser can show, made from any accepted original (HEIC, TIFF...)."""

from __future__ import annotations

import io

from rekindle.imaging.decode import open_image, render

DISPLAY_QUALITY = 90
DISPLAY_MAX_SIDE = 2560
# As for thumbnails (Pillow's Image.thumbnail default): libjpeg reduces by integer factors while
# at least 2x remains, then LANCZOS does the rest.
_REDUCING_GAP = 2.0


def make_display_copy(data: bytes, *, max_side: int = DISPLAY_MAX_SIDE) -> bytes:
    """A baseline JPEG (quality 90) of the image in `data` whose longest side is at most
    `max_side` pixels, for showing the original in a browser.

    The EXIF orientation is applied, the pixels are RGB in sRGB (embedded ICC profiles converted,
    alpha flattened on white, 16-bit and CMYK TIFFs reduced to 8-bit RGB), and the image is never
    upscaled. The original itself is not touched; this is a separate object.

    Raises `UnsupportedMediaType` for data in other formats and `InvalidImage` when it does not
    decode.
    """
    if max_side < 1:
        raise ValueError("max_side must be at least 1 pixel")
    with open_image(data) as img:
        shown, _, _ = render(img, max_side=max_side, reducing_gap=_REDUCING_GAP)
    out = io.BytesIO()
    shown.save(out, format="JPEG", quality=DISPLAY_QUALITY, optimize=True)
    return out.getvalue()
