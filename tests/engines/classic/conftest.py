"""Small generated photos for the classic engine's tests (seeded, so failures reproduce)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

PHOTOS = Path(__file__).resolve().parents[3].parent / "shared" / "photos"


@pytest.fixture
def scene() -> np.ndarray:
    """A 192×256×3 uint8 RGB test scene: smooth gradients, a few soft shapes, no noise."""
    h, w = 192, 256
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    r = 60 + 140 * xx / w
    g = 50 + 120 * yy / h
    b = 90 + 60 * np.sin(xx / 30) * np.cos(yy / 25)
    img = np.dstack([r, g, b])
    cv2.circle(img, (80, 90), 35, (200, 170, 120), -1)
    cv2.rectangle(img, (150, 40), (220, 120), (40, 60, 90), -1)
    img = cv2.GaussianBlur(img, (0, 0), 2.0)
    # Deep shadows and bright highlights, as a well-exposed photo has.
    img[5:25, 5:60] = (8, 8, 10)
    img[160:185, 190:250] = (245, 244, 240)
    return np.clip(img, 0, 255).round().astype(np.uint8)


@pytest.fixture
def photos_dir() -> Path:
    if not (PHOTOS / "real-old").is_dir():
        pytest.skip(f"shared photos not found at {PHOTOS} (they sit beside the repository)")
    return PHOTOS
