"""Fade (levels, which also neutralises a faded print's cast) and exposure correction, each only when
measured to be needed.

A faded print is the photo blended toward its paper colour: every channel's black point rises
(shadows wash out) and the paper's tint rides on top. So the decision to act is taken on the
black points: when all channels' shadows are lifted, the per-channel levels are reset, which
also neutralises the cast; a photo with deep blacks is left alone. This is the classic
"auto levels with clipping" (e.g. GIMP's Levels > Auto), gated and blended by how faded it is.
"""

from __future__ import annotations

import cv2
import numpy as np

_CLIP = 0.005  # fraction of pixels allowed to clip at each end
_T_LO, _T_HI = 4.0, 250.0  # target black and white points (grey levels)
_FADE_START, _FADE_FULL = 14.0, 30.0  # darkest channel's black point: start / full correction
# A monochrome photo has one channel: a naturally flat or misty scene lifts it as much as a light
# fade does (tune split: clean gray photos reach 43), so it must be lifted further.
_FADE_MONO_START, _FADE_MONO_FULL = 48.0, 70.0
_MAX_GAIN = 3.0
_RANGE_START, _RANGE_FULL = 40.0, 80.0  # lost range (black point + 255 - white point) on luminance
_MONO_KEEP_MEDIAN = 0.9  # a monochrome print's levels stretch may lower its median by 10 % at
# most; a midtone gamma takes back the rest (the black point is still restored)


def channel_levels(img: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel black and white points (0.5 % / 99.5 % quantiles from 256-bin histograms).

    img: H×W×C or H×W uint8. Returns two float arrays of length C (grey levels).
    """
    chans = [img] if img.ndim == 2 else cv2.split(img)
    los, his = [], []
    for ch in chans:
        cdf = np.cumsum(
            np.asarray(cv2.calcHist([ch], [0], None, [256], [0, 256]).ravel(), np.float64)
        )
        cdf = cdf / cdf[-1]
        los.append(float(np.searchsorted(cdf, _CLIP)))
        his.append(float(np.searchsorted(cdf, 1.0 - _CLIP)))
    return np.array(los), np.array(his)


def fade_amount(lo: np.ndarray, hi: np.ndarray | None = None) -> float:
    """0..1: how faded the photo looks from its black points (the darkest channel's), or from
    its lost tonal range (black point plus headroom under white) when `hi` is given: a flat
    print with greyed whites is washed out even when its blacks are not lifted much. The range
    test is used on monochrome photos only: colour scenes are often low-key or high-key by
    nature (benchmarks/quality: stretching them cost 3 dB on clean photos)."""
    start, full = (_FADE_MONO_START, _FADE_MONO_FULL) if lo.size == 1 else (_FADE_START, _FADE_FULL)
    t = (float(lo.min()) - start) / (full - start)
    if hi is not None:
        lost = float(np.mean(lo) + 255.0 - np.mean(hi))
        t = max(t, (lost - _RANGE_START) / (_RANGE_FULL - _RANGE_START))
    return float(np.clip(t, 0.0, 1.0))


def correct_levels(img: np.ndarray) -> tuple[np.ndarray, dict[str, object]]:
    """Reset black and white points per channel when the photo is faded, blended by how faded.

    img: H×W×3 (RGB) or H×W (luminance) uint8. Returns the corrected image (same shape, uint8)
    and a record: black/white points found, fade amount 0..1, whether cast correction ran, and
    for luminance (a monochrome print) the midtone gamma that keeps its median (`_keep_median`).
    """
    lo, hi = channel_levels(img)
    amount = fade_amount(lo)
    record: dict[str, object] = {
        "black_points": lo.round(1).tolist(),
        "white_points": hi.round(1).tolist(),
        "fade_amount": round(amount, 3),
        "applied": amount > 0,
        "cast_corrected": bool(amount > 0 and img.ndim == 3 and np.ptp(lo) + np.ptp(hi) > 12),
    }
    if amount <= 0:
        return img, record
    x = np.arange(256, dtype=np.float32)
    luts = []
    for c in range(lo.size):
        gain = min(_MAX_GAIN, (_T_HI - _T_LO) / max(hi[c] - lo[c], 1.0))
        full = (x - lo[c]) * gain + _T_LO
        luts.append(np.clip(x + amount * (full - x), 0, 255).round().astype(np.uint8))
    if img.ndim == 2:
        lut, record["midtone_gamma"] = _keep_median(img, luts[0])
        return cv2.LUT(img, lut), record
    return cv2.merge(
        [cv2.LUT(ch, lut) for ch, lut in zip(cv2.split(img), luts, strict=True)]
    ), record


def _keep_median(y: np.ndarray, lut: np.ndarray) -> tuple[np.ndarray, float]:
    """Compose a midtone gamma after the levels `lut` of a monochrome print when the stretch
    would lower its median luminance by more than (1 - `_MONO_KEEP_MEDIAN`).

    Resetting the black point of a sepia print whose darkest tones sit at grey level 50 maps its
    whole range down (the white point barely moves): scratch-couple-soldier's median fell from
    101 to 74 and its faces and background turned heavy. The gamma brings the median back to
    90 % of the input's; black and white stay put, so the contrast gained is kept.
    y: H×W uint8; lut: 256 uint8. Returns (the composed table, the gamma; 1.0 when unchanged).
    """
    hist = np.bincount(y.ravel(), minlength=256)
    median = int(np.searchsorted(np.cumsum(hist), 0.5 * y.size))
    before, after = float(median), float(lut[median])
    target = _MONO_KEEP_MEDIAN * before
    if after >= target or after < 8.0 or target >= 250.0:
        return lut, 1.0
    gamma = float(np.log(target / 255.0) / np.log(after / 255.0))
    x = lut.astype(np.float64) / 255.0
    return np.clip(255.0 * x**gamma, 0, 255).round().astype(np.uint8), round(gamma, 3)


def lift_chroma(
    y_before: np.ndarray, y_after: np.ndarray, cr: np.ndarray, cb: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Scale chroma with a luminance lift (by the square root of the gain, at most 1.3×), so
    lifted colours keep their saturation instead of turning grey. All planes H×W uint8."""
    gain = (y_after.astype(np.float32) + 8.0) / (y_before.astype(np.float32) + 8.0)
    k = np.clip(np.sqrt(gain), 1.0, 1.3)
    return tuple(
        np.clip(128.0 + (c.astype(np.float32) - 128.0) * k, 0, 255).round().astype(np.uint8)
        for c in (cr, cb)
    )


def _to_linear(v: np.ndarray) -> np.ndarray:
    v = np.clip(v, 0, 1)
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


def _from_linear(v: np.ndarray) -> np.ndarray:
    return np.where(v <= 0.0031308, v * 12.92, 1.055 * np.power(v, 1 / 2.4) - 0.055)


_EXPOSE_START, _EXPOSE_FULL = 150.0, 110.0  # 99.5th-percentile luminance: start / full gain
_EXPOSE_TARGET = 235.0  # where that percentile is brought (grey levels)


def correct_exposure(y: np.ndarray) -> tuple[np.ndarray, float]:
    """Brighten an underexposed photo: one with no highlights at all.

    y: H×W uint8 luminance. A photo whose 99.5th-percentile luminance is below `_EXPOSE_START`
    (a dark scene with a lamp, a window or a white collar has highlights and is left alone) gets
    a gain in linear light (sRGB transfer) that brings that percentile to `_EXPOSE_TARGET`,
    blended in fully below `_EXPOSE_FULL`: the exposure a camera missed, undone the way it
    happened. Returns (H×W uint8, the linear gain; 1.0 and `y` itself when left alone).
    """
    hi = float(channel_levels(y)[1][0])
    amount = float(np.clip((_EXPOSE_START - hi) / (_EXPOSE_START - _EXPOSE_FULL), 0, 1))
    if amount <= 0:
        return y, 1.0
    lin = _to_linear(np.array([_EXPOSE_TARGET, max(hi, 8.0)], np.float32) / 255)
    gain = float(lin[0] / lin[1])
    gain = 1.0 + amount * (gain - 1.0)
    x = _to_linear(np.arange(256, dtype=np.float32) / 255)
    lut = np.clip(_from_linear(np.clip(x * gain, 0, 1)) * 255, 0, 255).round().astype(np.uint8)
    return cv2.LUT(y, lut), round(gain, 3)
