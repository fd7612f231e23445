"""Faces, found so that crack detection can protect their features and search their skin.

Frontal faces are located with OpenCV's bundled Viola-Jones Haar cascade
(`cv2.data.haarcascades`, haarcascade_frontalface_default.xml, shipped in the opencv wheel:
nothing is downloaded; Viola & Jones, CVPR 2001). Within a face box the features sit at fixed
proportions of a frontal face (eyes and brows in the upper half, nose and lips below): those
zones are protected (a dark brow, a lip line, a nostril or an eye highlight is never a crack),
and the rest of the box, the skin around them, is where a print's hairline cracks are searched.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from rekindle.imaging import haar

_CASCADE = "haarcascade_frontalface_default.xml"
_WORK_SIDE = 800  # faces are found on a copy whose long side is at most this (px)
_MIN_FACE = 0.06  # smallest face side as a share of the photo's short side
_NEIGHBOURS = 5  # detections that must agree (Haar's minNeighbors): fewer false faces
# Feature zones as (centre x, centre y, radius x, radius y), in shares of the face box.
_FEATURES = (
    (0.30, 0.36, 0.17, 0.13),  # left eye and brow
    (0.70, 0.36, 0.17, 0.13),  # right eye and brow
    (0.50, 0.64, 0.13, 0.08),  # nostrils and nose tip
    (0.50, 0.81, 0.22, 0.08),  # lips
)


def _classifier() -> cv2.CascadeClassifier | None:
    return haar.cascade(_CASCADE)


def find_faces(y: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Frontal faces in H×W uint8 luminance `y`, as (x, y, w, h) boxes in `y`'s pixels.

    Returns [] when none are found or the cascade is not available.
    """
    c = _classifier()
    if c is None:
        return []
    h, w = y.shape
    s = min(1.0, _WORK_SIDE / max(h, w))
    small = y if s >= 1 else cv2.resize(y, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
    side = max(20, round(_MIN_FACE * min(small.shape)))
    found = c.detectMultiScale(
        cv2.equalizeHist(small), scaleFactor=1.1, minNeighbors=_NEIGHBOURS, minSize=(side, side)
    )
    return [(round(x / s), round(y0 / s), round(w0 / s), round(h0 / s)) for x, y0, w0, h0 in found]


def face_zones(
    shape: tuple[int, int], faces: list[tuple[int, int, int, int]]
) -> tuple[np.ndarray, np.ndarray]:
    """(skin, features): two H×W bool masks of `shape` for the given face boxes.

    features: ellipses over eyes and brows, nostrils and lips (`_FEATURES`), never inpainted
    from detection. skin: the face box, grown by a tenth, minus the features.
    """
    skin = np.zeros(shape, np.uint8)
    feats = np.zeros(shape, np.uint8)
    for x, y, w, h in faces:
        g = round(0.1 * w)
        cv2.rectangle(skin, (x - g, y - g), (x + w + g, y + h + g), 1, -1)
        for cx, cy, rx, ry in _FEATURES:
            centre = (round(x + cx * w), round(y + cy * h))
            axes = (max(1, math.ceil(rx * w)), max(1, math.ceil(ry * h)))
            cv2.ellipse(feats, centre, axes, 0, 0, 360, 1, -1)
    f = feats > 0
    return (skin > 0) & ~f, f
