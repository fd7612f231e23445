"""Seed 001's preprocessing: any accepted image in, an upright sRGB JPEG an engine accepts out."""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image

from rekindle.imaging.decode import normalized_format, open_image, render

PREPROCESS_QUALITY = 95
DEFAULT_MAX_SIDE = 3584
"""Seed 001: SiliconFlow accepts at most 3584×3584 pixels."""

# With a gap of 3 or more Pillow's two-step reduction is indistinguishable from a plain LANCZOS
# resample (Pillow's documentation of `reducing_gap`); engines see the best image we can give.
_REDUCING_GAP = 3.0


@dataclass(frozen=True)
class PreprocessResult:
    """The image submitted to an engine, and seed 002's record of how it was made.

    `image_bytes` is a JPEG (RGB, sRGB, upright): the input itself when it already is one that
    needs no change (`sent_as_is`), else encoded at quality 95. Dimensions are (width, height) in
    pixels: `original_dimensions` as decoded after EXIF orientation, `submitted_dimensions` of
    `image_bytes`. `format_converted` is False only when the input was already a baseline RGB or
    gray JPEG. `original_format` is Pillow's format name ("JPEG", "PNG", "HEIF", "WEBP", "TIFF").
    """

    image_bytes: bytes
    resized: bool
    original_dimensions: tuple[int, int]
    submitted_dimensions: tuple[int, int]
    format_converted: bool
    original_format: str

    def record(self) -> dict[str, object]:
        """Seed 002's `params["preprocessed"]` JSON object (dimensions as [width, height] lists)."""
        return {
            "resized": self.resized,
            "original_dimensions": list(self.original_dimensions),
            "submitted_dimensions": list(self.submitted_dimensions),
            "format_converted": self.format_converted,
            "original_format": self.original_format,
        }


def preprocess(
    data: bytes, *, max_side: int = DEFAULT_MAX_SIDE, max_decode_bytes: int | None = None
) -> PreprocessResult:
    """Prepare an uploaded image for a restoration engine (seed 001, `preprocess_image`).

    Decodes any accepted format (HEIC/HEIF through pillow-heif), applies the EXIF orientation,
    converts to RGB in sRGB (alpha flattened on white; grayscale stays gray, R = G = B; 16-bit
    gray scaled to 8 bits; CMYK and palette images converted; an embedded ICC profile converted
    to sRGB), bounds the longest side to `max_side` pixels with a LANCZOS resample (after a
    reduced-scale JPEG decode / integer reduce when the reduction is large, never upscaling),
    and encodes a JPEG at quality 95. A baseline RGB JPEG within the bound and with no metadata
    beyond its JFIF header (`sent_as_is`) is decoded (so a corrupt one still fails here) but
    passed on unchanged: re-encoding it would only add a generation of JPEG loss, and it was the
    worker's costliest image step of a remote restoration (issue 16). Output dimensions equal
    the seed's `img.thumbnail((max_side, max_side))` for the same oriented input.

    Raises `UnsupportedMediaType` for data in other formats and `InvalidImage` (codes
    `corrupt_image`, `image_too_large`, `unsupported_image_mode`) when it cannot be decoded, or
    would take more than `max_decode_bytes` bytes to decode (`decode.decode_cost`; None: no bound).
    """
    if max_side < 1:
        raise ValueError("max_side must be at least 1 pixel")
    with open_image(data) as img:
        fmt = normalized_format(img)
        already_jpeg = (
            fmt == "JPEG"
            and img.mode in ("RGB", "L")
            and not img.info.get("progressive")
            and not img.info.get("progression")
        )
        as_is = already_jpeg and sent_as_is(img)
        out, original_dimensions, resized = render(
            img, max_side=max_side, reducing_gap=_REDUCING_GAP, max_bytes=max_decode_bytes
        )
    if as_is and not resized:
        image_bytes = bytes(data)
    else:
        # Pillow writes the source's JPEG comment back unless told otherwise: none of the
        # source's metadata goes on to an engine.
        out.info.pop("comment", None)
        buffer = io.BytesIO()
        out.save(buffer, format="JPEG", quality=PREPROCESS_QUALITY)
        image_bytes = buffer.getvalue()
    return PreprocessResult(
        image_bytes=image_bytes,
        resized=resized,
        original_dimensions=original_dimensions,
        submitted_dimensions=out.size,
        format_converted=not already_jpeg,
        original_format=fmt,
    )


def sent_as_is(img: Image.Image) -> bool:
    """Whether an opened baseline JPEG (`img`, headers read) needs nothing preprocessing does but
    a size bound: RGB (a gray one is sent as RGB), and no marker segment but JFIF's APP0, so no
    EXIF (no orientation to apply, no camera or GPS data sent to a provider), no ICC profile to
    convert, no XMP, Adobe or comment segment. Segments as Pillow lists them (`applist`)."""
    applist = getattr(img, "applist", None)
    return (
        img.mode == "RGB"
        and applist is not None
        and all(marker == "APP0" and body.startswith(b"JFIF\0") for marker, body in applist)
    )
