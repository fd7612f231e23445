"""Upload validation: is this file an image we accept, how big is it, does it fully decode?"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rekindle.errors import InvalidImage
from rekindle.imaging.decode import (
    ACCEPTED_FORMATS,
    check_decode_cost,
    check_jpeg_data,
    exif_orientation,
    load_pixels,
    normalized_format,
    open_image,
    too_large,
)

# JPEG validation decodes at 1/8 scale: libjpeg still entropy-decodes every byte of the file
# (so truncation and corrupt data are caught) but skips most of the inverse DCT and needs 1/64
# of the memory. Other formats have no scaled decoding and are decoded in full.
_JPEG_VALIDATION_SCALE = 8


@dataclass(frozen=True)
class ImageInfo:
    """What an accepted upload is, read from its bytes.

    `format` is Pillow's format name ("JPEG", "PNG", "HEIF", "WEBP", "TIFF"; multi-picture JPEGs,
    which Pillow calls "MPO", are reported as "JPEG"); `mime_type` and `extension` come from
    `ACCEPTED_FORMATS`. `width` and `height` are in pixels, as stored (before EXIF orientation).
    """

    format: str
    mime_type: str
    extension: str
    width: int
    height: int

    @property
    def megapixels(self) -> float:
        return self.width * self.height / 1_000_000


def inspect_image(path: Path, *, max_pixels: int, max_bytes: int | None = None) -> ImageInfo:
    """Validate the upload stored at `path` and describe it.

    The format is detected from the bytes, never from the file name. The pixel count is checked
    from the header before any pixel is decoded (decompression bombs), then the whole image is
    decoded so that truncated or corrupt files are refused at upload rather than in the worker.
    JPEG data is decoded strictly (`check_jpeg_data`): data that ends before the frame its header
    declares is refused, not padded with gray.

    Raises:
        UnsupportedMediaType: (415, `unsupported_media_type`) empty files, non-images and images
            in other formats (GIF, BMP, AVIF, PDF, ...).
        InvalidImage: (422) code `image_too_large` when width × height > `max_pixels` (or Pillow's
            own decompression-bomb guard trips) or when decoding and converting it would take more
            than `max_bytes` bytes of memory (`decode.decode_cost`; None: no bound); code
            `corrupt_image` when the pixels do not decode.
    """
    try:
        img = open_image(Path(path))
    except InvalidImage as exc:
        if exc.code == "image_too_large":
            raise too_large(max_pixels=max_pixels) from exc
        raise
    with img:
        width, height = img.size
        if width * height > max_pixels:
            raise too_large(width, height, max_pixels=max_pixels)
        check_decode_cost(img, max_bytes)
        fmt = normalized_format(img)
        if fmt == "TIFF" and exif_orientation(img) in (5, 6, 7, 8):
            # Pillow's TIFF plugin reports the upright size; report the stored one like the rest.
            width, height = height, width
        if fmt == "JPEG":
            scale = _JPEG_VALIDATION_SCALE
            img.draft(None, (max(1, width // scale), max(1, height // scale)))
        load_pixels(img)
    if fmt == "JPEG":
        check_jpeg_data(Path(path).read_bytes(), (width, height))
    mime_type, extension = ACCEPTED_FORMATS[fmt]
    return ImageInfo(fmt, mime_type, extension, width, height)
