"""Fixtures for the animation engine tests: the shared real photos and an MP4 inspector.

Tests take them as fixtures (`real_photo`, `inspect_mp4`) rather than importing this module.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import av
import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]
REAL_OLD = REPO_ROOT.parent / "shared" / "photos" / "real-old"


def real_photo(name: str) -> bytes:
    """Bytes of a photo in ../shared/photos/real-old, or skip the test when the folder is absent."""
    path = REAL_OLD / name
    if not path.is_file():
        pytest.skip(
            f"shared test photos not found: {path} (the ../shared/photos checkout is absent)"
        )
    return path.read_bytes()


def top_level_boxes(data: bytes) -> list[str]:
    """Types of the top-level ISO BMFF boxes of an MP4, in file order."""
    boxes, offset = [], 0
    while offset + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[offset : offset + 8])
        if size == 1:
            size = struct.unpack(">Q", data[offset + 8 : offset + 16])[0]
        elif size == 0:
            size = len(data) - offset
        assert size >= 8, f"corrupt box at {offset}"
        boxes.append(kind.decode("latin-1"))
        offset += size
    assert offset == len(data), "trailing bytes after the last box"
    return boxes


@dataclass
class VideoInfo:
    """What a decoded MP4 holds; frames are compared on the fly, never all kept."""

    codec: str
    pix_fmt: str
    profile: str | None
    width: int
    height: int
    fps: float
    duration: float
    frames: int
    boxes: list[str]
    mad: list[float] = field(default_factory=list)
    """Mean absolute difference (0-255 levels) between consecutive decoded RGB frames."""
    max_chroma: int = 0
    """Largest |R-G| or |G-B| over every pixel of every frame."""
    first_frame: np.ndarray | None = None


def inspect_mp4(data: bytes) -> VideoInfo:
    """Decode an MP4 with PyAV and measure it."""
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        ctx = stream.codec_context
        info = VideoInfo(
            codec=ctx.name,
            pix_fmt=ctx.pix_fmt,
            profile=ctx.profile,
            width=ctx.width,
            height=ctx.height,
            fps=float(stream.average_rate),
            duration=float(container.duration) / av.time_base,
            frames=0,
            boxes=top_level_boxes(data),
        )
        previous: np.ndarray | None = None
        for frame in container.decode(stream):
            rgb = frame.to_ndarray(format="rgb24")
            if info.first_frame is None:
                info.first_frame = rgb
            signed = rgb.astype(np.int16)
            info.max_chroma = max(
                info.max_chroma,
                int(np.abs(signed[..., 0] - signed[..., 1]).max()),
                int(np.abs(signed[..., 1] - signed[..., 2]).max()),
            )
            current = rgb.astype(np.float32)
            if previous is not None:
                info.mad.append(float(np.abs(current - previous).mean()))
            previous = current
            info.frames += 1
    return info


@pytest.fixture(name="real_photo")
def real_photo_fixture() -> Callable[[str], bytes]:
    """`real_photo(name)`: bytes of ../shared/photos/real-old/name; skips the test when absent."""
    return real_photo


@pytest.fixture(name="inspect_mp4")
def inspect_mp4_fixture() -> Callable[[bytes], VideoInfo]:
    """`inspect_mp4(data)`: decode an MP4 and measure it (see VideoInfo)."""
    return inspect_mp4
