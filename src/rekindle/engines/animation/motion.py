"""The camera path of the local animation: a slow, eased zoom and pan toward the subject.

The camera is a window of the output's aspect ratio over the picture. It starts as the largest such
window centred on the picture and ends `zoom` times smaller, centred on the subject as far as the
picture's edges allow. Between the two, progress follows a cosine ease-in-out, the centre moves
linearly with progress and the window size geometrically (so the zoom feels even). Positions and
sizes are floats: each frame is resampled with its own sub-pixel affine transform, never an integer
crop, so the motion has no jitter. Velocity is continuous and starts and ends at zero.

Coordinates are continuous picture coordinates in pixels: (0, 0) is the top-left corner of the top-left
pixel, (W, H) the bottom-right corner of the bottom-right pixel.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

MIN_ZOOM = 1.10
MAX_ZOOM = 1.25
SUBJECT_MARGIN = 1.8
"""The end window is wide enough to hold the subject box this many times over, zoom permitting."""


@dataclass(frozen=True)
class Window:
    """A camera window: centre (cx, cy) and size (width, height), in picture pixels (floats)."""

    cx: float
    cy: float
    width: float
    height: float

    @property
    def box(self) -> tuple[float, float, float, float]:
        """(x, y, width, height) of the window's top-left corner and size, pixels."""
        return (self.cx - self.width / 2, self.cy - self.height / 2, self.width, self.height)


def ease_in_out(t: float) -> float:
    """Cosine ease-in-out of progress t in [0, 1]: 0 → 0, 1 → 1, zero velocity at both ends."""
    t = min(1.0, max(0.0, t))
    return 0.5 - 0.5 * math.cos(math.pi * t)


@dataclass(frozen=True)
class CameraPath:
    """The camera over `frames` frames, from window `start` to window `end` (picture pixels)."""

    start: Window
    end: Window
    frames: int

    @property
    def zoom(self) -> float:
        """How much closer the last frame is than the first (start width / end width)."""
        return self.start.width / self.end.width

    def progress(self, index: int) -> float:
        """Eased progress in [0, 1] of frame `index` (0 ... frames - 1)."""
        if self.frames <= 1:
            return 0.0
        return ease_in_out(index / (self.frames - 1))

    def window(self, index: int) -> Window:
        """The camera window of frame `index`, picture pixels."""
        p = self.progress(index)
        size = (self.end.width / self.start.width) ** p
        return Window(
            cx=self.start.cx + (self.end.cx - self.start.cx) * p,
            cy=self.start.cy + (self.end.cy - self.start.cy) * p,
            width=self.start.width * size,
            height=self.start.height * size,
        )

    def inverse_affine(
        self, index: int, out_size: tuple[int, int], scale: float = 1.0
    ) -> np.ndarray:
        """2×3 float64 matrix mapping output pixel (u, v) to the source pixel to sample there.

        out_size: (width, height) of the output frame, pixels. scale: size of the resampled source
        relative to the picture the path was planned on (the source is `scale` times larger).
        Meant for `cv2.warpAffine(source, M, out_size, flags=... | cv2.WARP_INVERSE_MAP)`, whose
        pixel centres sit at integer coordinates: output pixel u covers [u, u + 1) of the window
        scaled to the output, and its centre u + 0.5 maps to x0 + (u + 0.5) * s in picture
        coordinates, which is pixel index x0 + (u + 0.5) * s - 0.5 of the source.
        """
        window = self.window(index)
        out_w, out_h = out_size
        x0, y0 = (window.cx - window.width / 2) * scale, (window.cy - window.height / 2) * scale
        sx, sy = window.width * scale / out_w, window.height * scale / out_h
        return np.array(
            [[sx, 0.0, x0 + 0.5 * sx - 0.5], [0.0, sy, y0 + 0.5 * sy - 0.5]], dtype=np.float64
        )


def plan_camera(
    picture_size: tuple[int, int],
    aspect: float,
    subject_box: tuple[float, float, float, float],
    frames: int,
    *,
    min_zoom: float = MIN_ZOOM,
    max_zoom: float = MAX_ZOOM,
) -> CameraPath:
    """Plan a zoom and pan toward `subject_box` over `frames` frames.

    picture_size: (width, height) in pixels. aspect: output width / height. subject_box: (x, y, w, h)
    in picture pixels. The zoom is as close as fits the subject with a margin, between `min_zoom` and
    `max_zoom`. Every window of the path lies inside the picture.

    Raises ValueError for an empty picture, a non-positive aspect or zoom below 1.
    """
    width, height = picture_size
    if width <= 0 or height <= 0 or aspect <= 0:
        raise ValueError(f"bad picture size {picture_size} or aspect {aspect}")
    if not 1.0 <= min_zoom <= max_zoom:
        raise ValueError(f"zoom range must satisfy 1 <= min <= max, got {min_zoom}, {max_zoom}")
    start_w = min(float(width), height * aspect)
    start_h = start_w / aspect
    start = Window(width / 2.0, height / 2.0, start_w, start_h)

    bx, by, bw, bh = subject_box
    fit = min(start_w / max(bw * SUBJECT_MARGIN, 1e-6), start_h / max(bh * SUBJECT_MARGIN, 1e-6))
    zoom = min(max_zoom, max(min_zoom, fit))
    end_w, end_h = start_w / zoom, start_h / zoom
    # The window centre can move only as far as keeps the window inside the picture.
    cx = min(max(bx + bw / 2.0, end_w / 2.0), width - end_w / 2.0)
    cy = min(max(by + bh / 2.0, end_h / 2.0), height - end_h / 2.0)
    end = Window(cx, cy, end_w, end_h)
    return CameraPath(start=start, end=end, frames=frames)
