"""Gentle sharpening and optional 2× upscaling.

Unsharp masking (e.g. Gonzalez & Woods, "Digital Image Processing", §3.6.3) on luminance, with
soft coring: detail below a noise-scaled threshold is not amplified, so leftover grain and
JPEG noise are not sharpened. Upscaling is Lanczos (cv2.INTER_LANCZOS4).
"""

from __future__ import annotations

import cv2
import numpy as np

_RADIUS = 1.2  # Gaussian sigma of the blur that defines "detail", px
_AMOUNT = 0.15  # PSNR on the benchmark drops with any more (see docs/benchmarks.md)


def unsharp(y: np.ndarray, sigma_noise: float, amount: float = _AMOUNT) -> np.ndarray:
    """Noise-aware unsharp mask.

    y: H×W uint8 luminance. sigma_noise: noise left after denoising (grey levels); detail smaller
    than ~2 sigma is left unamplified. Returns H×W uint8.
    """
    if amount <= 0:
        return y
    yf = y.astype(np.float32)
    detail = yf - cv2.GaussianBlur(yf, (0, 0), _RADIUS)
    core = max(1.0, 2.0 * sigma_noise)
    # Soft coring: weight rises smoothly from 0 to 1 as |detail| passes the threshold.
    a = np.abs(detail)
    weight = a * a / (a * a + core * core)
    yf += amount * weight * detail
    return np.clip(yf, 0, 255).round().astype(np.uint8)


def upscale2x(img: np.ndarray) -> np.ndarray:
    """2× Lanczos upscale. img: H×W×C or H×W uint8. Returns 2H×2W, same dtype."""
    return cv2.resize(img, None, fx=2.0, fy=2.0, interpolation=cv2.INTER_LANCZOS4)
