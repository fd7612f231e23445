"""Small real media for the fakes' answers: JPEG, PNG, and H.264 MP4 / VP9 WebM clips."""

from __future__ import annotations

import io
import os
import tempfile
from fractions import Fraction
from typing import Any

import av
import numpy as np
from PIL import Image


def _image(width: int, height: int, color: tuple[int, int, int]) -> Image.Image:
    img = Image.new("RGB", (width, height), color)
    for x in range(0, width, 8):  # some structure, so encoders have something to encode
        img.putpixel((x, (x * 7) % height), (255 - color[0], 255 - color[1], 255 - color[2]))
    return img


def jpeg_bytes(
    width: int = 64, height: int = 48, color: tuple[int, int, int] = (120, 90, 60)
) -> bytes:
    buffer = io.BytesIO()
    _image(width, height, color).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def png_bytes(
    width: int = 64, height: int = 48, color: tuple[int, int, int] = (40, 160, 200)
) -> bytes:
    buffer = io.BytesIO()
    _image(width, height, color).save(buffer, format="PNG")
    return buffer.getvalue()


def _clip_faststart(width: int, height: int, frames: int, fps: int) -> bytes:
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "clip.mp4")
        _write(path, "mp4", "libx264", "yuv420p", width, height, frames, fps, faststart=True)
        with open(path, "rb") as handle:
            return handle.read()


def _clip(
    fmt: str, codec: str, pix_fmt: str, width: int, height: int, frames: int, fps: int
) -> bytes:
    buffer = io.BytesIO()
    _write(buffer, fmt, codec, pix_fmt, width, height, frames, fps)
    return buffer.getvalue()


def _write(
    target: Any,
    fmt: str,
    codec: str,
    pix_fmt: str,
    width: int,
    height: int,
    frames: int,
    fps: int,
    faststart: bool = False,
) -> None:
    options = {"movflags": "+faststart"} if faststart else {}
    with av.open(target, "w", format=fmt, options=options) as container:
        stream = container.add_stream(codec, rate=Fraction(fps))
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        for i in range(frames):
            array = np.zeros((height, width, 3), dtype=np.uint8)
            array[:, :, 0] = (i * 20) % 256
            array[:, : width // 2, 1] = 200
            frame = av.VideoFrame.from_ndarray(array, format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def mp4_bytes(
    width: int = 64, height: int = 48, frames: int = 17, fps: int = 16, faststart: bool = True
) -> bytes:
    """An H.264 yuv420p MP4, with `moov` first when `faststart`."""
    if faststart:
        return _clip_faststart(width, height, frames, fps)
    return _clip("mp4", "libx264", "yuv420p", width, height, frames, fps)


def webm_bytes(width: int = 64, height: int = 48, frames: int = 9, fps: int = 16) -> bytes:
    """A VP9 WebM (not browser-ready for our purpose: must be transcoded to H.264 MP4)."""
    return _clip("webm", "libvpx-vp9", "yuv420p", width, height, frames, fps)


def noisy_jpeg(width: int, height: int, seed: int = 0) -> bytes:
    """A JPEG of random noise at quality 98: large for its size (for payload-limit tests)."""
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(buffer, format="JPEG", quality=98)
    return buffer.getvalue()
