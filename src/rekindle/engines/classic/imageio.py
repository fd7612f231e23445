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


def decode_mask(data: bytes, shape: tuple[int, int]) -> np.ndarray:
    """Decode a damage mask (any Pillow-readable image; `RestoreRequest.mask` is an 8-bit gray
    PNG) to an H×W uint8 array, 255 where damaged (any non-zero gray after converting to "L").

    shape: the (H, W) the mask must have (the image's). Raises EngineError("invalid_mask") when
    the bytes cannot be decoded or the size differs.
    """
    try:
        with Image.open(io.BytesIO(data)) as im:
            gray = np.asarray(im.convert("L"))
    except Exception as exc:  # Pillow raises many types for bad bytes
        raise EngineError("invalid_mask", "The mask could not be read", str(exc)) from exc
    if gray.shape != tuple(shape):
        raise EngineError(
            "invalid_mask",
            "The mask must have the photo's size",
            f"mask {gray.shape[1]}×{gray.shape[0]}, image {shape[1]}×{shape[0]}",
        )
    return np.where(gray > 0, 255, 0).astype(np.uint8)


def encode_jpeg(rgb: np.ndarray) -> bytes:
    """H×W×3 uint8 RGB -> JPEG bytes (quality 92, 4:4:4 chroma so restored colour edges stay crisp)."""
    buf = io.BytesIO()
    Image.fromarray(rgb, "RGB").save(
        buf, "JPEG", quality=JPEG_QUALITY, subsampling=0, optimize=True
    )
    return buf.getvalue()
