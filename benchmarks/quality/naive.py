"""The naive baseline chain the issue compares against.

Inpainting of a simple threshold mask (pixels more than 40 levels from their 5×5 median),
then OpenCV's plain colour non-local means with its documented defaults (h = hColor = 10),
then CLAHE (clip 2, 8×8 tiles) on L of Lab.
"""

from __future__ import annotations

import cv2
import numpy as np


def naive_restore(rgb: np.ndarray) -> np.ndarray:
    """H×W×3 uint8 RGB in, H×W×3 uint8 RGB out."""
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    diff = cv2.absdiff(gray, cv2.medianBlur(gray, 5))
    mask = (diff > 40).astype(np.uint8) * 255
    out = cv2.inpaint(rgb, mask, 3, cv2.INPAINT_TELEA)
    out = cv2.fastNlMeansDenoisingColored(out, None, 10, 10, 7, 21)
    lab = cv2.cvtColor(out, cv2.COLOR_RGB2LAB)
    lab[:, :, 0] = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8)).apply(lab[:, :, 0])
    return cv2.cvtColor(lab, cv2.COLOR_LAB2RGB)
