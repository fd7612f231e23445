"""LocalAnimationEngine on real old photos: a smooth, browser-playable Ken Burns MP4."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from rekindle.config import Settings
from rekindle.engines import registry
from rekindle.engines.animation.local import (
    FPS,
    MODEL,
    LocalAnimationEngine,
    frame_count,
    output_size,
    render_frame,
)
from rekindle.engines.animation.motion import plan_camera
from rekindle.engines.base import AnimateRequest, EngineError

PREVIEW_PHOTOS = [
    "bw-migrant-mother-1936.jpg",  # portrait JPEG with an ICC profile, 1000×1247
    "bw-detroit-1915.jpg",  # wide (wider than 16:9), busy city view, 1000×553
    "scratch-girl-floral.png",  # small RGBA PNG, 256×336: upscaled even for the preview
    "autochrome-moulin-rouge.png",  # colour, 736×1016
]


@pytest.fixture(scope="module")
def engine() -> LocalAnimationEngine:
    return LocalAnimationEngine()


def encode(img: Image.Image, fmt: str = "PNG", **params: object) -> bytes:
    out = io.BytesIO()
    img.save(out, format=fmt, **params)
    return out.getvalue()


def assert_smooth(mad: list[float]) -> None:
    """Consecutive frames differ little, with no spikes, and the motion eases in and out."""
    values = np.array(mad)
    peak = float(values.max())
    assert 0.0 < peak < 15.0, f"frames jump: max mean abs difference {peak:.2f} levels"
    steps = np.abs(np.diff(values))
    assert steps.max() <= 0.2 * peak + 0.5, f"spike in frame differences: {steps.max():.2f}"
    assert values[0] < 0.25 * peak and values[-1] < 0.25 * peak, "not eased at the ends"


@pytest.mark.photos
@pytest.mark.parametrize("name", PREVIEW_PHOTOS)
def test_preview(name: str, engine, real_photo, inspect_mp4) -> None:
    data = real_photo(name)
    source = Image.open(io.BytesIO(data))
    result = engine.animate(AnimateRequest(image=data))

    info = inspect_mp4(result.video)
    assert (info.codec, info.pix_fmt) == ("h264", "yuv420p")
    assert info.boxes.index("moov") < info.boxes.index("mdat"), "not faststart"
    assert (info.width, info.height) == (result.width, result.height)
    assert min(info.width, info.height) == 480
    assert info.width % 2 == 0 and info.height % 2 == 0
    # The photo's aspect ratio, clamped to 9:16 ... 16:9 (Detroit is wider and gets 16:9).
    aspect = min(16 / 9, max(9 / 16, source.width / source.height))
    assert info.width / info.height == pytest.approx(aspect, rel=0.01)
    assert info.fps == result.fps == FPS
    assert info.frames == 125
    assert info.duration == pytest.approx(5.0, abs=0.05)
    assert result.duration_seconds == pytest.approx(5.0)
    assert_smooth(info.mad)

    thumb = Image.open(io.BytesIO(result.thumbnail))
    assert thumb.format == "JPEG"
    assert max(thumb.size) == 400
    assert thumb.width / thumb.height == pytest.approx(info.width / info.height, rel=0.02)

    assert result.model == MODEL
    params = result.params
    assert params["detector"] in ("face-haar", "saliency-spectral-residual", "centre")
    x, y, w, h = params["subject_box"]
    assert x >= 0 and y >= 0 and x + w <= source.width + 0.5 and y + h <= source.height + 0.5
    low, high = params["zoom"]
    assert low == 1.0 and 1.05 <= high <= 1.3
    assert params["frames"] == 125 and params["fps"] == FPS


def test_frames_are_resampled_sub_pixel() -> None:
    """Every frame moves a little: a slow move is not a staircase of integer crops (which would
    repeat frames and then jump by a whole pixel)."""
    y, x = np.mgrid[0:300, 0:400].astype(np.float32)
    picture = (127 + 60 * np.sin(x / 9.0) * np.cos(y / 11.0)).astype(np.uint8)
    picture = np.repeat(picture[:, :, None], 3, axis=2)
    path = plan_camera((400, 300), 4 / 3, (250, 60, 60, 60), 125)
    previous = None
    mad = []
    for index in range(path.frames):
        frame = render_frame(picture, path, index, (320, 240), 1.0)
        assert frame.shape == (240, 320, 3) and frame.dtype == np.uint8
        if previous is not None:
            mad.append(float(np.abs(frame.astype(np.float32) - previous).mean()))
        previous = frame.astype(np.float32)
    values = np.array(mad)
    middle = values[10:-10]
    assert (middle > 0.05).all(), "frames repeat: the camera moves in whole pixels"
    assert np.abs(np.diff(values)).max() <= 0.15 * values.max()


@pytest.mark.photos
def test_preview_moves_toward_the_subject(engine, real_photo, inspect_mp4) -> None:
    """The last frame shows the subject larger than the first: it is a zoom, not a still."""
    result = engine.animate(AnimateRequest(image=real_photo("bw-migrant-mother-1936.jpg")))
    start, end = result.params["start_window"], result.params["end_window"]
    assert end[2] < start[2] and end[3] < start[3]
    sx, sy, sw, sh = result.params["subject_box"]
    ex, ey, ew, eh = end
    # The subject's centre is inside the final window.
    assert ex <= sx + sw / 2 <= ex + ew and ey <= sy + sh / 2 <= ey + eh


@pytest.mark.photos
def test_hd(engine, real_photo, inspect_mp4) -> None:
    data = real_photo("scratch-couple-soldier.png")  # 400×256: upscaled to 1080p
    preview = engine.animate(AnimateRequest(image=data))
    result = engine.animate(AnimateRequest(image=data, hd=True))
    info = inspect_mp4(result.video)
    assert (info.codec, info.pix_fmt) == ("h264", "yuv420p")
    assert info.boxes.index("moov") < info.boxes.index("mdat")
    assert max(info.width, info.height) >= 1080
    assert min(info.width, info.height) == 1080
    assert (info.width, info.height) == (result.width, result.height)
    assert info.width % 2 == 0 and info.height % 2 == 0
    assert info.frames == 125 and info.fps == FPS
    assert_smooth(info.mad)
    # Same motion as the preview (windows differ only by the rounding of the output sizes).
    for key in ("subject_box", "zoom", "frames"):
        assert result.params[key] == preview.params[key], key
    for key in ("start_window", "end_window"):
        assert result.params[key] == pytest.approx(preview.params[key], abs=1.0), key
    # The upscale is smooth (Lanczos), not blocky: neighbouring pixels rarely jump hard.
    assert info.first_frame is not None
    gray = info.first_frame.astype(np.float32).mean(axis=2)
    assert np.percentile(np.abs(np.diff(gray, axis=1)), 99) < 40


@pytest.mark.photos
def test_is_deterministic(engine, real_photo) -> None:
    data = real_photo("faded-boy-glasses.png")
    first = engine.animate(AnimateRequest(image=data))
    second = LocalAnimationEngine().animate(AnimateRequest(image=data))
    assert first.video == second.video
    assert first.thumbnail == second.thumbnail
    without_timings = [
        {k: v for k, v in r.params.items() if k != "timings"} for r in (first, second)
    ]
    assert without_timings[0] == without_timings[1]


@pytest.mark.photos
def test_gray_photo_stays_gray(engine, real_photo, inspect_mp4) -> None:
    gray = Image.open(io.BytesIO(real_photo("bw-trumpeter-1946.jpg"))).convert("L")
    result = engine.animate(AnimateRequest(image=encode(gray)))
    info = inspect_mp4(result.video)
    assert info.max_chroma <= 3, f"colour appeared in a gray photo: {info.max_chroma} levels"
    thumb = np.asarray(Image.open(io.BytesIO(result.thumbnail)).convert("RGB"), dtype=np.int16)
    assert np.abs(thumb[..., 0] - thumb[..., 2]).max() <= 3


def test_exif_orientation_is_applied(engine, inspect_mp4) -> None:
    """A landscape-stored JPEG tagged 'rotate 90°' animates as a portrait."""
    exif = Image.Exif()
    exif[0x0112] = 6
    stored = Image.new("RGB", (640, 480), (90, 110, 130))
    data = encode(stored, "JPEG", exif=exif.tobytes())
    result = engine.animate(AnimateRequest(image=data, duration_seconds=1.0))
    assert (result.width, result.height) == (480, 640)
    assert result.params["source_size"] == [480, 640]


def test_large_jpeg_is_decoded_at_reduced_size(engine, inspect_mp4) -> None:
    """A 4000×3000 JPEG renders a correct preview (JPEG draft decoding keeps it fast)."""
    rng = np.random.default_rng(3)
    small = rng.integers(0, 255, (30, 40, 3), dtype=np.uint8)
    big = Image.fromarray(small).resize((4000, 3000), Image.Resampling.BICUBIC)
    result = engine.animate(AnimateRequest(image=encode(big, "JPEG"), duration_seconds=1.0))
    assert (result.width, result.height) == (640, 480)
    assert result.params["source_size"] == [4000, 3000]
    x, y, w, h = result.params["start_window"]
    assert (x, y, w, h) == pytest.approx((0, 0, 4000, 3000), abs=16)
    assert inspect_mp4(result.video).frames == FPS


def test_transparent_png_is_flattened_on_white(engine, inspect_mp4) -> None:
    img = Image.new("RGBA", (320, 240), (0, 0, 0, 0))
    result = engine.animate(AnimateRequest(image=encode(img), duration_seconds=1.0))
    info = inspect_mp4(result.video)
    assert info.first_frame is not None and info.first_frame.min() >= 250


def test_extreme_aspect_is_clamped_and_panned(engine, inspect_mp4) -> None:
    img = Image.new("RGB", (2000, 200), (40, 80, 120))
    result = engine.animate(AnimateRequest(image=encode(img), duration_seconds=1.0))
    assert (result.width, result.height) == (854, 480)
    info = inspect_mp4(result.video)
    assert (info.width, info.height) == (854, 480)


@pytest.mark.parametrize(
    ("requested", "frames"), [(5.0, 125), (2.0, 50), (0.1, 25), (120.0, 750), (float("nan"), 125)]
)
def test_duration_is_clamped(requested: float, frames: int) -> None:
    assert frame_count(requested) == frames


def test_short_clip_duration(engine, inspect_mp4) -> None:
    img = Image.new("RGB", (300, 200), (10, 20, 30))
    result = engine.animate(AnimateRequest(image=encode(img), duration_seconds=2.0))
    info = inspect_mp4(result.video)
    assert result.duration_seconds == 2.0
    assert info.frames == 50
    assert info.duration == pytest.approx(2.0, abs=0.05)


@pytest.mark.parametrize(
    ("size", "short", "expected"),
    [
        ((1000, 1247), 480, (480, 598)),
        ((1000, 553), 480, (854, 480)),
        ((640, 480), 480, (640, 480)),
        ((256, 336), 1080, (1080, 1418)),
        ((100, 1000), 480, (480, 854)),
        ((1920, 1080), 1080, (1920, 1080)),
    ],
)
def test_output_size(size, short, expected) -> None:
    width, height = output_size(*size, short)
    assert (width, height) == expected
    assert width % 2 == 0 and height % 2 == 0


@pytest.mark.parametrize(
    "data",
    [b"", b"not an image at all", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64],
    ids=["empty", "text", "broken-png"],
)
def test_undecodable_input_is_invalid_image(engine, data: bytes) -> None:
    with pytest.raises(EngineError) as caught:
        engine.animate(AnimateRequest(image=data))
    assert caught.value.code == "invalid_image"


def test_truncated_jpeg_is_invalid_image(engine) -> None:
    data = encode(Image.new("RGB", (200, 200), (200, 10, 10)), "JPEG")
    with pytest.raises(EngineError) as caught:
        engine.animate(AnimateRequest(image=data[: len(data) // 3]))
    assert caught.value.code == "invalid_image"


def test_too_many_pixels_is_invalid_image() -> None:
    data = encode(Image.new("RGB", (300, 300)), "PNG")
    with pytest.raises(EngineError) as caught:
        LocalAnimationEngine(max_image_pixels=300 * 299).animate(AnimateRequest(image=data))
    assert caught.value.code == "invalid_image"


def test_registry_builds_the_engine_from_settings() -> None:
    settings = Settings(thumbnail_size=256, max_image_pixels=1_000_000)
    registry.reset()
    try:
        engine = registry.animation_engine("local", settings)
        assert isinstance(engine, LocalAnimationEngine)
        assert engine.thumbnail_size == 256 and engine.max_image_pixels == 1_000_000
        assert LocalAnimationEngine.is_configured(settings)
    finally:
        registry.reset()
