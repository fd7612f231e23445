"""encode_mp4: RGB frames in, a browser-playable H.264 MP4 (yuv420p, faststart) out."""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction

import numpy as np
import pytest

from rekindle.engines.animation.encode import encode_mp4


def moving_square(count: int, width: int = 320, height: int = 240) -> Iterator[np.ndarray]:
    for index in range(count):
        frame = np.full((height, width, 3), 40, np.uint8)
        frame[60:120, 40 + 2 * index : 100 + 2 * index] = (200, 120, 30)
        yield frame


def test_encodes_h264_yuv420p_faststart(inspect_mp4) -> None:
    data = encode_mp4(moving_square(50), 25)
    info = inspect_mp4(data)
    assert (info.codec, info.pix_fmt) == ("h264", "yuv420p")
    assert (info.width, info.height) == (320, 240)
    assert info.fps == 25.0
    assert info.frames == 50
    assert info.duration == pytest.approx(2.0, abs=0.01)
    assert info.boxes.index("moov") < info.boxes.index("mdat"), info.boxes
    assert info.boxes[0] == "ftyp"


def test_colours_survive_the_round_trip(inspect_mp4) -> None:
    info = inspect_mp4(encode_mp4(moving_square(3), 25, crf=10))
    assert info.first_frame is not None
    # Inside the square (BT.709 limited range both ways, so no colour shift beyond rounding).
    assert np.abs(info.first_frame[80:100, 55:85].astype(int) - (200, 120, 30)).max() <= 6
    assert np.abs(info.first_frame[180:220, 200:300].astype(int) - 40).max() <= 3


def test_fractional_frame_rate(inspect_mp4) -> None:
    info = inspect_mp4(encode_mp4(moving_square(30), Fraction(30000, 1001)))
    assert info.fps == pytest.approx(29.97, abs=0.01)
    assert info.duration == pytest.approx(1.001, abs=0.01)


def test_is_deterministic() -> None:
    assert encode_mp4(moving_square(20), 25) == encode_mp4(moving_square(20), 25)


def test_consumes_frames_lazily() -> None:
    """The encoder pulls one frame at a time: it never needs the whole clip in memory."""
    pulled: list[int] = []

    def frames() -> Iterator[np.ndarray]:
        for index, frame in enumerate(moving_square(10)):
            pulled.append(index)
            yield frame

    encode_mp4(frames(), 25)
    assert pulled == list(range(10))


@pytest.mark.parametrize(
    ("frames", "message"),
    [
        ([], "no frames"),
        ([np.zeros((241, 320, 3), np.uint8)], "even"),
        ([np.zeros((240, 320, 3), np.uint8), np.zeros((240, 322, 3), np.uint8)], "changed"),
        ([np.zeros((240, 320, 3), np.float32)], "uint8"),
        ([np.zeros((240, 320, 4), np.uint8)], "3 channels"),
    ],
)
def test_rejects_bad_frames(frames: list[np.ndarray], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        encode_mp4(iter(frames), 25)


def test_rejects_bad_fps() -> None:
    with pytest.raises(ValueError, match="fps"):
        encode_mp4(moving_square(2), 0)
