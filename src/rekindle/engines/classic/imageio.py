"""Decoding any Pillow-readable photo to H×W×3 uint8 RGB, and encoding the JPEG result."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageOps

from rekindle.engines.base import EngineError

try:  # HEIC/HEIF uploads; optional at import time so decoding never depends on it
    import pillow_heif

    pillow_heif.register_heif_opener()
except ImportError:  # pragma: no cover
    pass

JPEG_QUALITY = 92


def decode(data: bytes) -> tuple[np.ndarray, str]:
    """Decode image bytes to (H×W×3 uint8 RGB, the source Pillow mode).

    EXIF orientation is applied; gray becomes R=G=B; alpha is composited over white; 16-bit and
    float images are scaled to 8 bits. Raises EngineError("invalid_image") on undecodable input.
    """
    try:
        opened = Image.open(io.BytesIO(data))
        opened.load()
        im: Image.Image = ImageOps.exif_transpose(opened)
    except Exception as exc:  # Pillow raises many types for bad bytes
        raise EngineError("invalid_image", "Image could not be processed", str(exc)) from exc
    mode = im.mode
    if mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        a = np.asarray(im, dtype=np.float32)
        top = 65535.0 if a.max(initial=0) > 255 else 255.0
        gray = np.clip(a * (255.0 / top), 0, 255).round().astype(np.uint8)
        return np.repeat(gray[:, :, None], 3, axis=2), mode
    if "A" in mode or (mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        im = Image.alpha_composite(canvas, rgba)
    return np.asarray(im.convert("RGB"), dtype=np.uint8).copy(), mode


def encode_jpeg(rgb: np.ndarray) -> bytes:
    """H×W×3 uint8 RGB -> JPEG bytes (quality 92, 4:4:4 chroma so restored colour edges stay crisp)."""
    buf = io.BytesIO()
    Image.fromarray(rgb, "RGB").save(
        buf, "JPEG", quality=JPEG_QUALITY, subsampling=0, optimize=True
    )
    return buf.getvalue()
