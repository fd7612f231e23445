"""Find the main subject of a still: where the camera of the local animation should move to.

Detectors run in order, and the first that finds something wins:

1. faces, with a Haar cascade bundled in the installed OpenCV wheel (`cv2.data.haarcascades`); the
   OpenCV 5 wheels ship none, and then this step is skipped;
2. static saliency (spectral residual, from opencv-contrib's `cv2.saliency`), weighted by a soft
   centre prior so that scan borders, frames and corner damage do not pull the camera away;
3. the centre of the picture.

Everything runs on a small copy of the picture (longest side `ANALYSIS_SIDE`), so it costs a few
milliseconds and is deterministic.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import cv2
import numpy as np

from rekindle.imaging import haar

logger = logging.getLogger(__name__)

ANALYSIS_SIDE = 320
"""Longest side, pixels, of the copy the detectors look at."""

FACE_CASCADES = ("haarcascade_frontalface_default.xml", "haarcascade_frontalface_alt2.xml")


@dataclass(frozen=True)
class Subject:
    """The main subject of a picture.

    box: (x, y, width, height) in pixels of the analysed picture, floats.
    detector: "face-haar", "saliency-spectral-residual" or "centre".
    """

    box: tuple[float, float, float, float]
    detector: str

    @property
    def center(self) -> tuple[float, float]:
        x, y, w, h = self.box
        return (x + w / 2.0, y + h / 2.0)


def find_subject(rgb: np.ndarray) -> Subject:
    """Locate the main subject of `rgb` (H×W×3 uint8 RGB).

    Returns a `Subject` whose box is in pixels of `rgb`. Never raises for a valid array: when no
    detector finds anything the box is the central half of the picture and the detector "centre".
    """
    height, width = rgb.shape[:2]
    scale = min(1.0, ANALYSIS_SIDE / max(height, width))
    small_size = (max(1, round(width * scale)), max(1, round(height * scale)))
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    small = cv2.resize(gray, small_size, interpolation=cv2.INTER_AREA) if scale < 1.0 else gray
    factor = 1.0 / (small.shape[1] / width)

    for detector, find in (("face-haar", _faces), ("saliency-spectral-residual", _salient)):
        box = find(small)
        if box is not None:
            x, y, w, h = box
            return Subject((x * factor, y * factor, w * factor, h * factor), detector)
    return Subject((width / 4.0, height / 4.0, width / 2.0, height / 2.0), "centre")


def _face_cascade() -> cv2.CascadeClassifier | None:
    """This thread's first bundled frontal-face cascade that loads, or None (OpenCV 5 wheels ship
    none)."""
    return haar.cascade(*FACE_CASCADES)


def _faces(gray: np.ndarray) -> tuple[float, float, float, float] | None:
    """Union box of the clearly detected faces, or None."""
    cascade = _face_cascade()
    if cascade is None:
        return None
    min_side = max(16, min(gray.shape) // 12)
    try:
        faces = cascade.detectMultiScale(
            cv2.equalizeHist(gray), scaleFactor=1.1, minNeighbors=6, minSize=(min_side, min_side)
        )
    except cv2.error:  # pragma: no cover - depends on the OpenCV build
        logger.warning("face cascade failed; falling back to saliency", exc_info=True)
        return None
    if len(faces) == 0:
        return None
    boxes = np.asarray(faces, dtype=np.float64).reshape(-1, 4)
    areas = boxes[:, 2] * boxes[:, 3]
    boxes = boxes[areas >= 0.25 * areas.max()]  # small hits beside a big face are usually noise
    x0, y0 = boxes[:, 0].min(), boxes[:, 1].min()
    x1, y1 = (boxes[:, 0] + boxes[:, 2]).max(), (boxes[:, 1] + boxes[:, 3]).max()
    return (float(x0), float(y0), float(x1 - x0), float(y1 - y0))


def _salient(gray: np.ndarray) -> tuple[float, float, float, float] | None:
    """Box around the saliency mass (weighted mean ± 1.2 standard deviations), or None."""
    saliency_module = getattr(cv2, "saliency", None)
    if saliency_module is None:  # pragma: no cover - plain (non-contrib) OpenCV
        return None
    if gray.std() < 2.0:  # a flat picture has no subject
        return None
    detector = saliency_module.StaticSaliencySpectralResidual_create()
    ok, saliency = detector.computeSaliency(gray)
    if not ok:  # pragma: no cover
        return None
    saliency = cv2.resize(
        np.asarray(saliency, dtype=np.float32),
        (gray.shape[1], gray.shape[0]),
        interpolation=cv2.INTER_LINEAR,
    )
    saliency = cv2.GaussianBlur(saliency, (0, 0), sigmaX=max(gray.shape) / 40.0)
    height, width = gray.shape
    ys = (np.arange(height, dtype=np.float32) + 0.5) / height - 0.5
    xs = (np.arange(width, dtype=np.float32) + 0.5) / width - 0.5
    prior = np.exp(-(ys[:, None] ** 2 + xs[None, :] ** 2) / (2 * 0.3**2))
    weight = saliency * prior
    # Keep the strongest part of the map so that diffuse texture does not spread the box.
    weight = np.where(weight >= np.quantile(weight, 0.8), weight, 0.0)
    total = float(weight.sum())
    if not np.isfinite(total) or total <= 0.0:
        return None
    grid_y, grid_x = np.mgrid[0:height, 0:width].astype(np.float64) + 0.5
    cx = float((weight * grid_x).sum() / total)
    cy = float((weight * grid_y).sum() / total)
    sx = float(np.sqrt((weight * (grid_x - cx) ** 2).sum() / total))
    sy = float(np.sqrt((weight * (grid_y - cy) ** 2).sum() / total))
    half_w = max(1.2 * sx, width / 10.0)
    half_h = max(1.2 * sy, height / 10.0)
    x0, x1 = max(0.0, cx - half_w), min(float(width), cx + half_w)
    y0, y1 = max(0.0, cy - half_h), min(float(height), cy + half_h)
    return (x0, y0, x1 - x0, y1 - y0)
