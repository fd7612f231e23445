"""The local animation engine: a Ken Burns move over the still, rendered on the CPU with no model.

The engine finds the main subject (`subject.find_subject`), plans a slow eased zoom and pan toward it
(`motion.plan_camera`), resamples every frame from the still with a sub-pixel affine warp and streams
the frames into libx264 (`encode.encode_mp4`). Nothing but the still, one frame and the encoder's
buffers is held in memory.

Sizes: the preview is 480p (short side 480 px), the HD result 1080p (short side 1080 px, so the long
side is at least 1080 px); a smaller still is upscaled once with Lanczos before the warp. The output
aspect ratio is the still's, kept between 9:16 and 16:9 (a wider still is panned across). Both
dimensions are even, as yuv420p needs. The output is deterministic for the same input bytes.

The thumbnail is the first frame (the whole picture, before the camera moves): used as the video's
poster it matches the first frame shown when playback starts, so nothing jumps.
"""

from __future__ import annotations

import io
import math
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, ClassVar

import cv2
import numpy as np
from PIL import Image, ImageOps

from rekindle.engines.animation.encode import encode_mp4
from rekindle.engines.animation.motion import MAX_ZOOM, CameraPath, plan_camera
from rekindle.engines.animation.subject import find_subject
from rekindle.engines.base import AnimateRequest, AnimationResult, EngineError

if TYPE_CHECKING:
    from rekindle.config import Settings

MODEL = "local-kenburns-1"
FPS = 25
PREVIEW_SHORT_SIDE = 480
HD_SHORT_SIDE = 1080
MIN_ASPECT, MAX_ASPECT = 9 / 16, 16 / 9
MIN_DURATION, MAX_DURATION, DEFAULT_DURATION = 1.0, 30.0, 5.0
PREVIEW_CRF, HD_CRF = 21, 19
PRESET = "veryfast"
WARP_INTERPOLATION = cv2.INTER_CUBIC

_INVALID = ("invalid_image", "The file could not be read as an image.")


class LocalAnimationEngine:
    """Animates a still with an eased zoom and pan toward its subject; needs no model and no GPU."""

    name: ClassVar[str] = "local"

    def __init__(self, thumbnail_size: int = 400, max_image_pixels: int = 60_000_000) -> None:
        self.thumbnail_size = thumbnail_size
        self.max_image_pixels = max_image_pixels

    @classmethod
    def from_settings(cls, settings: Settings) -> LocalAnimationEngine:
        return cls(
            thumbnail_size=settings.thumbnail_size, max_image_pixels=settings.max_image_pixels
        )

    @classmethod
    def is_configured(cls, settings: Settings) -> bool:
        return True

    def animate(self, request: AnimateRequest) -> AnimationResult:
        """Render `request.image` (JPEG/PNG/... bytes) as an H.264 MP4 with a JPEG thumbnail.

        Preview (hd=False): short side 480 px; HD: short side 1080 px. FPS frames per second;
        `request.duration_seconds` is clamped to 1-30 s (non-finite means 5 s) and rounded to whole
        frames. `request.seed` is ignored: the motion depends only on the picture.

        Raises EngineError("invalid_image") when the bytes are not a decodable image or the picture
        is larger than `max_image_pixels`.
        """
        started = time.perf_counter()
        short_side = HD_SHORT_SIDE if request.hd else PREVIEW_SHORT_SIDE
        image, source_size = self._decode(request.image, short_side)
        decoded = time.perf_counter()

        height, width = image.shape[:2]
        out_w, out_h = output_size(width, height, short_side)
        subject = find_subject(image)
        frames = frame_count(request.duration_seconds)
        path = plan_camera((width, height), out_w / out_h, subject.box, frames)
        planned = time.perf_counter()

        scale, working = _working_image(image, out_w / path.end.width)
        del image
        thumbnail_frame: list[np.ndarray] = []

        def rendered() -> Iterator[np.ndarray]:
            for index in range(frames):
                frame = render_frame(working, path, index, (out_w, out_h), scale)
                if index == 0:
                    thumbnail_frame.append(frame)
                yield frame

        crf = HD_CRF if request.hd else PREVIEW_CRF
        video = encode_mp4(rendered(), FPS, crf=crf, preset=PRESET)
        encoded = time.perf_counter()
        thumbnail = _jpeg_thumbnail(thumbnail_frame[0], self.thumbnail_size)

        to_source = source_size[0] / width
        params: dict[str, Any] = {
            "engine": self.name,
            "detector": subject.detector,
            "subject_box": [round(v * to_source, 1) for v in subject.box],
            "source_size": list(source_size),
            "zoom": [1.0, round(path.zoom, 4)],
            "start_window": [round(v * to_source, 1) for v in path.start.box],
            "end_window": [round(v * to_source, 1) for v in path.end.box],
            "easing": "cosine-in-out",
            "frames": frames,
            "fps": FPS,
            "codec": "h264",
            "encoder": {"name": "libx264", "crf": crf, "preset": PRESET, "pix_fmt": "yuv420p"},
            "thumbnail": "first frame",
            "timings": {
                "decode_seconds": round(decoded - started, 3),
                "analyse_seconds": round(planned - decoded, 3),
                "render_encode_seconds": round(encoded - planned, 3),
                "total_seconds": round(time.perf_counter() - started, 3),
            },
        }
        return AnimationResult(
            video=video,
            thumbnail=thumbnail,
            width=out_w,
            height=out_h,
            fps=float(FPS),
            duration_seconds=frames / FPS,
            model=MODEL,
            params=params,
        )

    def _decode(self, data: bytes, short_side: int) -> tuple[np.ndarray, tuple[int, int]]:
        """Decode to H×W×3 uint8 RGB (EXIF orientation applied, alpha over white) and the original
        (width, height). JPEGs are decoded at a reduced scale when the output needs far fewer pixels.
        """
        try:
            img: Image.Image = Image.open(io.BytesIO(data))
            width, height = img.size
            if width * height > self.max_image_pixels:
                raise EngineError(*_INVALID, detail=f"{width}×{height} exceeds the pixel limit")
            orientation = img.getexif().get(0x0112, 1)
            source_size = (width, height) if orientation < 5 else (height, width)
            # Decode no more pixels than the most zoomed frame samples (JPEG draft mode).
            out_w, out_h = output_size(*source_size, short_side)
            needed = out_w * MAX_ZOOM / min(source_size[0], source_size[1] * out_w / out_h)
            if needed < 0.5:
                img.draft(None, (math.ceil(width * needed), math.ceil(height * needed)))
            img = ImageOps.exif_transpose(img)
            rgb = _to_rgb(img)
        except EngineError:
            raise
        except Exception as exc:  # Pillow raises many types for corrupt or hostile data
            raise EngineError(*_INVALID, detail=f"{type(exc).__name__}: {exc}") from exc
        if rgb.shape[0] < 1 or rgb.shape[1] < 1:
            raise EngineError(*_INVALID, detail="empty image")
        return rgb, source_size


def output_size(width: int, height: int, short_side: int) -> tuple[int, int]:
    """(width, height) of the video for a `width`×`height` picture, pixels.

    The short side is `short_side`; the aspect ratio is the picture's, clamped to 9:16 ... 16:9; both
    sides are even.
    """
    aspect = min(MAX_ASPECT, max(MIN_ASPECT, width / height))
    if aspect >= 1.0:
        return (2 * round(short_side * aspect / 2), short_side)
    return (short_side, 2 * round(short_side / aspect / 2))


def frame_count(duration_seconds: float) -> int:
    """Whole frames at FPS for a duration in seconds, clamped to 1-30 s (non-finite: 5 s)."""
    if not math.isfinite(duration_seconds):
        duration_seconds = DEFAULT_DURATION
    duration_seconds = min(MAX_DURATION, max(MIN_DURATION, duration_seconds))
    return max(1, round(duration_seconds * FPS))


def render_frame(
    working: np.ndarray,
    path: CameraPath,
    index: int,
    out_size: tuple[int, int],
    scale: float,
) -> np.ndarray:
    """Frame `index` of `path`, sampled from `working` (H×W×3 uint8 RGB, the picture resampled by
    `scale`) with a sub-pixel bicubic warp. Returns out_size[1]×out_size[0]×3 uint8 RGB.
    """
    matrix = path.inverse_affine(index, out_size, scale)
    return cv2.warpAffine(
        working,
        matrix,
        out_size,
        flags=WARP_INTERPOLATION | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REPLICATE,
    )


def _working_image(image: np.ndarray, scale: float) -> tuple[float, np.ndarray]:
    """Resample the picture once so that the most zoomed frame samples it 1:1.

    Returns the scale actually applied (new width / old width) and the image. Downscaling uses area
    averaging (no aliasing), upscaling Lanczos; the per-frame warp then only scales by 1 ... zoom.
    """
    height, width = image.shape[:2]
    new_w = max(1, round(width * scale))
    new_h = max(1, round(height * scale))
    if abs(new_w - width) <= 1 and abs(new_h - height) <= 1:
        return 1.0, image
    interpolation = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LANCZOS4
    return new_w / width, cv2.resize(image, (new_w, new_h), interpolation=interpolation)


def _to_rgb(img: Image.Image) -> np.ndarray:
    """H×W×3 uint8 RGB of a Pillow image of any mode; transparency is composited over white."""
    if img.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        values = np.asarray(img, dtype=np.float32)
        peak = float(values.max()) if values.size else 0.0
        if peak > 255.0:
            values = values * (255.0 / (65535.0 if peak <= 65535.0 else peak))
        gray = np.clip(values + 0.5, 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(gray[:, :, None], 3, axis=2))
    if img.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in img.info:
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)
    return np.ascontiguousarray(np.asarray(img.convert("RGB"), dtype=np.uint8))


def _jpeg_thumbnail(frame: np.ndarray, longest_side: int) -> bytes:
    """JPEG bytes of `frame` (H×W×3 uint8 RGB), scaled down to `longest_side` pixels at most."""
    img = Image.fromarray(frame)
    if max(img.size) > longest_side:
        img.thumbnail((longest_side, longest_side), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    img.save(out, format="JPEG", quality=88, optimize=True)
    return out.getvalue()
