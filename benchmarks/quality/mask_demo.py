"""Acceptance 2 of issue 11: a hand-made mask over the face cracks of the soldier print.

The mask's strokes were placed by eye on a 5× enlargement of
`../shared/photos/real-old/scratch-couple-soldier.png` (coordinates in the print's own
400×256 pixels) and are drawn here 3 px wide. The print is restored through the engine twice,
without and with the mask, and 3× crops of the two faces are laid out: before | mask |
classic alone | classic with the mask.

Run: `uv run python -m benchmarks.quality.mask_demo` (writes docs/images/soldier-mask-repair.png).
"""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from benchmarks.quality.photos import REAL_OLD, REPO_ROOT
from rekindle.engines.base import RestoreRequest
from rekindle.engines.classic import ClassicEngine
from rekindle.engines.classic.imageio import decode

OUT = REPO_ROOT / "docs" / "images" / "soldier-mask-repair.png"
FACES = (108, 40, 290, 165)  # x0, y0, x1, y1 of the crop holding both faces
STROKES = (
    # the woman: down her cheek beside the nose, across below the eyes, her far cheek
    ((155, 114), (158, 130), (161, 142), (160, 150)),
    ((108, 134), (130, 136), (156, 137)),
    ((108, 134), (109, 146), (110, 158)),
    ((166, 108), (174, 104), (182, 100), (188, 96)),
    # the man: his temple, across his cheek, along the jaw
    ((253, 54), (254, 66), (254, 74), (256, 82)),
    ((250, 84), (258, 90), (266, 96), (276, 100), (288, 104)),
    ((260, 126), (274, 130), (290, 124)),
)


def draw_mask(size: tuple[int, int]) -> np.ndarray:
    """The hand-made mask, H×W uint8 (255 = damaged), for a photo of `size` (width, height)."""
    mask = np.zeros((size[1], size[0]), np.uint8)
    for stroke in STROKES:
        cv2.polylines(mask, [np.array(stroke, np.int32)], False, 255, 3, cv2.LINE_8)
    return mask


def main(path: Path = OUT) -> Path:
    data = (REAL_OLD / "scratch-couple-soldier.png").read_bytes()
    before = decode(data)[0]
    mask = draw_mask((before.shape[1], before.shape[0]))
    png = io.BytesIO()
    Image.fromarray(mask).save(png, "PNG")
    engine = ClassicEngine()
    image = io.BytesIO()
    Image.fromarray(before).save(image, "PNG")
    plain = decode(engine.restore(RestoreRequest(image=image.getvalue())).data)[0]
    masked = decode(
        engine.restore(RestoreRequest(image=image.getvalue(), mask=png.getvalue())).data
    )[0]
    x0, y0, x1, y1 = FACES
    shown = before.copy()
    shown[mask > 0] = (255, 0, 0)
    tiles = [
        cv2.resize(img[y0:y1, x0:x1], None, fx=3, fy=3, interpolation=cv2.INTER_LANCZOS4)
        for img in (before, shown, plain, masked)
    ]
    gap = np.full((tiles[0].shape[0], 6, 3), 255, np.uint8)
    top = np.hstack([tiles[0], gap, tiles[1]])
    bottom = np.hstack([tiles[2], gap, tiles[3]])
    sheet = np.vstack([top, np.full((6, top.shape[1], 3), 255, np.uint8), bottom])
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(sheet).save(path, optimize=True)
    return path


if __name__ == "__main__":
    print(main())
