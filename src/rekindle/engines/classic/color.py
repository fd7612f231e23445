"""Colour space helpers and monochrome (gray, sepia, toned) detection.

A monochrome print, toned or not, has chroma that is a function of luminance only: paper and
toner give each grey level one tint. So we fit chroma as a smooth function of luminance (a
256-entry look-up table) and call the photo monochrome when what is left is tiny. Such photos are
restored on luminance alone and re-tinted from the table, so they stay monochrome and their tone
stays consistent; a barely tinted one (a gray scan stored as RGB) comes back neutral gray.
"""

from __future__ import annotations

import cv2
import numpy as np

_MONO_RESIDUAL = 2.75  # smoothed chroma RMS (grey levels) left after the fit: below = monochrome
_NEUTRAL_TINT = 4.0  # mean |chroma| below this: a gray photo, returned exactly gray
_SAMPLE = 1_000_000  # pixels sampled for the statistics


def split_ycrcb(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """H×W×3 uint8 RGB -> (Y, Cr, Cb), each H×W uint8 (ITU-R BT.601, chroma 128 = neutral)."""
    y, cr, cb = cv2.split(cv2.cvtColor(rgb, cv2.COLOR_RGB2YCrCb))
    return y, cr, cb


def merge_ycrcb(y: np.ndarray, cr: np.ndarray, cb: np.ndarray) -> np.ndarray:
    """Inverse of `split_ycrcb`: three H×W uint8 planes -> H×W×3 uint8 RGB."""
    return cv2.cvtColor(cv2.merge([y, cr, cb]), cv2.COLOR_YCrCb2RGB)


def tint_tables(
    y: np.ndarray, cr: np.ndarray, cb: np.ndarray
) -> tuple[np.ndarray, np.ndarray, float]:
    """Fit chroma as a function of luminance.

    y, cr, cb: H×W uint8. Returns (cr_lut, cb_lut, residual): two 256-entry float32 tables of the
    mean chroma at each luminance (smoothed, extrapolated flat), and the RMS of the spatially
    smoothed chroma left around them (grey levels). Smoothing first matters: grain and paper
    stains leave pixel-scale residue, while real colours (a blue dress) leave coherent patches.
    """
    count = np.bincount(y.ravel(), minlength=256).astype(np.float64)
    luts = []
    for ch in (cr, cb):
        total = np.bincount(y.ravel(), weights=ch.ravel().astype(np.float64), minlength=256)
        k = np.ones(15)
        # Smooth sums and counts alike, so sparse grey levels borrow from their neighbours.
        num, den = np.convolve(total, k, "same"), np.convolve(count, k, "same")
        valid = den > 0
        mean = np.interp(np.arange(256), np.flatnonzero(valid), num[valid] / den[valid])
        luts.append(mean.astype(np.float32))
    blur = max(2.0, min(y.shape) / 100)
    d_cr = cv2.GaussianBlur(cr.astype(np.float32) - luts[0][y], (0, 0), blur)
    d_cb = cv2.GaussianBlur(cb.astype(np.float32) - luts[1][y], (0, 0), blur)
    resid = float(np.sqrt(np.mean(d_cr * d_cr + d_cb * d_cb)))
    return luts[0], luts[1], resid


def monochrome_tint(rgb: np.ndarray) -> tuple[bool, bool, np.ndarray, np.ndarray]:
    """Decide whether `rgb` (H×W×3 uint8) is monochrome.

    Returns (is_mono, is_neutral, cr_lut, cb_lut): is_neutral means gray enough to come back R=G=B;
    the tables give the tint per luminance level (see `tint_tables`). Statistics are taken on a
    copy downscaled to about 1 MP.
    """
    scale = min(1.0, float(np.sqrt(_SAMPLE / (rgb.shape[0] * rgb.shape[1]))))
    small = (
        rgb
        if scale >= 1
        else cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    )
    y, cr, cb = split_ycrcb(small)
    cr_lut, cb_lut, resid = tint_tables(y, cr, cb)
    tint = float(np.mean(np.hypot(cr_lut - 128, cb_lut - 128)))
    is_mono = resid < _MONO_RESIDUAL
    return is_mono, bool(is_mono and tint < _NEUTRAL_TINT), cr_lut, cb_lut


def apply_tint(y: np.ndarray, cr_lut: np.ndarray, cb_lut: np.ndarray, neutral: bool) -> np.ndarray:
    """Rebuild a monochrome RGB photo from its luminance.

    y: H×W uint8. neutral: return exact gray (R=G=B=Y). Else chroma comes from the tables at each
    pixel's luminance. Returns H×W×3 uint8 RGB.
    """
    if neutral:
        return cv2.merge([y, y, y])
    cr = cv2.LUT(y, np.clip(cr_lut, 0, 255).round().astype(np.uint8))
    cb = cv2.LUT(y, np.clip(cb_lut, 0, 255).round().astype(np.uint8))
    return merge_ycrcb(y, cr, cb)


def chroma_magnitude(cr: np.ndarray, cb: np.ndarray) -> np.ndarray:
    """|Cr - 128| + |Cb - 128| (L1 distance from neutral), H×W uint8, from two H×W uint8 planes."""
    neutral = np.full_like(cr, 128)
    return cv2.add(cv2.absdiff(cr, neutral), cv2.absdiff(cb, neutral))
