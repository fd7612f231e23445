"""Contact sheet: every real old photo before and after `classic`, as one PNG."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from benchmarks.quality.photos import REAL_OLD, REPO_ROOT, listing
from rekindle.engines.base import RestoreRequest
from rekindle.engines.classic import ClassicEngine
from rekindle.engines.classic.imageio import decode

SHEET = REPO_ROOT / "docs" / "images" / "classic-contact-sheet.png"
CROPS = REPO_ROOT / "docs" / "images" / "classic-soldier-faces-3x.png"
SOLDIER_FACES = (95, 30, 290, 170)  # x0, y0, x1, y1 of both faces in scratch-couple-soldier
_TILE_H = 230  # px per photo on the sheet (keeps the PNG under 3 MB)
_WIDTH = 1400


def write_sheet(path: Path = SHEET, crops: Path = CROPS) -> tuple[Path, Path]:
    """Restore every real-old photo through the engine (bytes in, JPEG out) and lay out pairs;
    also write 3× crops of the soldier print's faces, before (top) and after (bottom)."""
    engine = ClassicEngine()
    pairs = []
    for photo in listing(REAL_OLD):
        data = photo.read_bytes()
        before = decode(data)[0]
        after = decode(engine.restore(RestoreRequest(image=data)).data)[0]
        pairs.append(_pair(before, after, photo.stem))
        if photo.name == "scratch-couple-soldier.png":
            x0, y0, x1, y1 = SOLDIER_FACES
            up = [
                cv2.resize(i[y0:y1, x0:x1], None, fx=3, fy=3, interpolation=cv2.INTER_LANCZOS4)
                for i in (before, after)
            ]
            gap = np.full((6, up[0].shape[1], 3), 255, np.uint8)
            crops.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(np.vstack([up[0], gap, up[1]])).save(crops, optimize=True)
    rows, row, width = [], [], 0
    for p in pairs:
        if row and width + p.shape[1] > _WIDTH:
            rows.append(row)
            row, width = [], 0
        row.append(p)
        width += p.shape[1]
    rows.append(row)
    sheet = np.full((len(rows) * (_TILE_H + 28), _WIDTH, 3), 255, np.uint8)
    for r, items in enumerate(rows):
        x = 0
        for p in items:
            sheet[r * (_TILE_H + 28) : r * (_TILE_H + 28) + p.shape[0], x : x + p.shape[1]] = p
            x += p.shape[1]
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(sheet).save(path, optimize=True)
    return path, crops


def _pair(before: np.ndarray, after: np.ndarray, name: str) -> np.ndarray:
    w = round(before.shape[1] * _TILE_H / before.shape[0])
    b = cv2.resize(before, (w, _TILE_H), interpolation=cv2.INTER_AREA)
    a = cv2.resize(after, (w, _TILE_H), interpolation=cv2.INTER_AREA)
    gap = np.full((_TILE_H, 4, 3), 255, np.uint8)
    pair = np.hstack([b, gap, a, np.full((_TILE_H, 12, 3), 255, np.uint8)])
    label = np.full((26, pair.shape[1], 3), 255, np.uint8)
    cv2.putText(
        label,
        f"{name}: before | after",
        (2, 18),
        cv2.FONT_HERSHEY_SIMPLEX,
        0.5,
        (0, 0, 0),
        1,
        cv2.LINE_AA,
    )
    return np.vstack([pair, label])
