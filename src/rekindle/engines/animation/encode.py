"""H.264 MP4 writing with PyAV: RGB frames in, bytes of a browser-playable MP4 out.

The file is H.264 (libx264), yuv420p, BT.709 limited range and tagged as such, with the `moov` atom
before `mdat` (`movflags=+faststart`) so that a browser can start playing before the download ends.
FFmpeg's faststart pass re-reads the finished file, which it cannot do through a Python file object,
so the MP4 is written to a private temporary file and read back.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import ColorRange, Colorspace, Interpolation, VideoReformatter

DEFAULT_CRF = 20
DEFAULT_PRESET = "veryfast"

# ITU-T H.273 code points for BT.709 (primaries, transfer and matrix) and limited ("tv") range.
_BT709 = 1
_RANGE_MPEG = 1


def encode_mp4(
    frames: Iterable[np.ndarray],
    fps: int | Fraction,
    *,
    crf: int = DEFAULT_CRF,
    preset: str = DEFAULT_PRESET,
    keyframe_interval: int | None = None,
    tune: str | None = None,
) -> bytes:
    """Encode RGB frames into an H.264 MP4 and return its bytes.

    frames: an iterable of H×W×3 uint8 RGB arrays, all the same size, W and H even. It is consumed
        one frame at a time, so a generator keeps memory bounded to a frame or two.
    fps: frames per second (an int or a Fraction such as Fraction(30000, 1001)); frame i is shown at
        i / fps seconds, so the clip lasts len(frames) / fps seconds.
    crf: libx264 constant rate factor, 0-51 (lower is better and bigger; 18-23 is the usual range).
    preset: libx264 speed preset ("ultrafast" ... "veryslow").
    keyframe_interval: frames between keyframes; None means one every 10 seconds (x264's default
        of 250 frames at 25 fps), so a short clip has a single keyframe and no keyframe "pulse".
    tune: optional libx264 tune ("film", "grain", ...).

    The result is H.264 High profile, yuv420p, BT.709, faststart; it plays in every current browser.
    Output is deterministic for the same frames and options.

    Raises ValueError when there are no frames, when a frame is not H×W×3 uint8, when the sizes differ
    or when W or H is odd (yuv420p needs even sizes).
    """
    rate = Fraction(fps)
    if rate <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    gop = keyframe_interval if keyframe_interval is not None else max(1, round(10 * rate))
    options = {"crf": str(crf), "preset": preset, "g": str(gop)}
    if tune:
        options["tune"] = tune

    with tempfile.TemporaryDirectory(prefix="rekindle-mp4-") as folder:
        path = Path(folder) / "video.mp4"
        count = 0
        with av.open(
            str(path), mode="w", format="mp4", options={"movflags": "+faststart"}
        ) as container:
            stream = container.add_stream("libx264", rate=rate, options=options)
            # Frame threads: x264's sliced threads (PyAV's default) are not reproducible run to run.
            stream.codec_context.thread_type = "FRAME"
            reformatter = VideoReformatter()
            size: tuple[int, int] | None = None
            for frame in frames:
                _check_frame(frame, size)
                if size is None:
                    size = (frame.shape[0], frame.shape[1])
                    stream.height, stream.width = size
                    stream.pix_fmt = "yuv420p"
                    context = stream.codec_context
                    context.colorspace = _BT709
                    context.color_primaries = _BT709
                    context.color_trc = _BT709
                    context.color_range = _RANGE_MPEG
                rgb = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
                yuv = reformatter.reformat(
                    rgb,
                    format="yuv420p",
                    src_colorspace=Colorspace.ITU709,
                    dst_colorspace=Colorspace.ITU709,
                    src_color_range=ColorRange.JPEG,
                    dst_color_range=ColorRange.MPEG,
                    interpolation=Interpolation.BILINEAR | Interpolation.ACCURATE_RND,
                    threads=1,
                )
                yuv.pts = count
                count += 1
                for packet in stream.encode(yuv):
                    container.mux(packet)
            if count == 0:
                raise ValueError("no frames to encode")
            for packet in stream.encode(None):
                container.mux(packet)
        return path.read_bytes()


def _check_frame(frame: np.ndarray, size: tuple[int, int] | None) -> None:
    if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8 or frame.ndim != 3:
        raise ValueError("frames must be H×W×3 uint8 RGB arrays")
    height, width, channels = frame.shape
    if channels != 3:
        raise ValueError(f"frames must have 3 channels, got {channels}")
    if size is None:
        if width % 2 or height % 2 or width == 0 or height == 0:
            raise ValueError(
                f"frame size must be even and non-zero for yuv420p, got {width}×{height}"
            )
    elif (height, width) != size:
        raise ValueError(f"frame size changed from {size[1]}×{size[0]} to {width}×{height}")
