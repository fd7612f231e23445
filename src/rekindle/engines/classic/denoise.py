"""Denoising matched to the estimated noise level.

Luminance: OpenCV's fast non-local means (Buades, Coll & Morel, CVPR 2005; cv2.fastNlMeansDenoising)
with its filter strength h proportional to the estimated sigma. Chroma: natural photos carry
little fine colour detail, so chroma noise is removed with a guided filter steered by the
(clean) luminance (He, Sun & Tang, TPAMI 2013; cv2.ximgproc.guidedFilter), which keeps colour
edges aligned to luminance edges and costs O(1) per pixel.
"""

from __future__ import annotations

import cv2
import numpy as np

_H_PER_SIGMA = 1.0  # NLM h per estimated sigma at strength 0.5 (tuned on benchmarks/quality)
_MIN_SIGMA = 4.0  # below this the photo is treated as clean (tune split: clean photos
# measure at most 3.7, from texture; NLM on them only costs PSNR)
_BIG_PIXELS = 4_000_000


def strength_factor(strength: float) -> float:
    """Map the user's denoise strength 0..1 to a multiplier of the matched filter strength.

    0 -> 0 (keep grain), 0.5 -> 1 (matched to the noise), 1 -> 1.6 (strong).
    """
    s = float(np.clip(strength, 0.0, 1.0))
    return 2.0 * s if s <= 0.5 else 1.0 + 1.2 * (s - 0.5)


def denoise_luma(
    y: np.ndarray, sigma: float, strength: float, keep: float = 0.0
) -> tuple[np.ndarray, float]:
    """Non-local-means denoise of luminance.

    y: H×W uint8. sigma: estimated noise sigma (grey levels). strength: 0..1. keep: share of
    the input blended back (0 = fully denoised), to thin film grain rather than wipe it.
    Returns (H×W uint8, the h used; 0.0 when skipped).
    """
    h = _H_PER_SIGMA * sigma * strength_factor(strength)
    if sigma < _MIN_SIGMA or h < 1.0:
        return y, 0.0
    # NLM's cost grows with the search area: big scans search 15×15 instead of 21×21 (~2× faster).
    search = 21 if y.size <= _BIG_PIXELS else 15
    out = cv2.fastNlMeansDenoising(
        y, None, h=float(h), templateWindowSize=7, searchWindowSize=search
    )
    if keep > 0:
        out = cv2.addWeighted(out, 1.0 - keep, y, keep, 0.0)
    return out, h


def denoise_chroma(
    guide: np.ndarray, cr: np.ndarray, cb: np.ndarray, sigma: float, strength: float
) -> tuple[np.ndarray, np.ndarray]:
    """Smooth chroma planes with a guided filter steered by denoised luminance.

    guide: H×W uint8 luminance; cr, cb: H×W uint8 chroma (YCrCb, 128 = neutral).
    Returns the two filtered H×W uint8 planes (unchanged when strength or sigma is 0).
    """
    f = strength_factor(strength)
    if sigma < _MIN_SIGMA or f <= 0:
        return cr, cb
    radius = max(2, round(min(8.0, 1.0 + 0.35 * sigma * f)))
    eps = float((2.0 * sigma * f) ** 2)
    out = []
    for ch in (cr, cb):
        out.append(cv2.ximgproc.guidedFilter(guide, ch, radius, eps))
    return out[0], out[1]
