"""Fade and colour-cast correction (levels), and gentle local contrast.

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
_MAX_GAIN = 3.0
_RANGE_START, _RANGE_FULL = 40.0, 80.0  # lost range (black point + 255 - white point) on luminance
_CAST_SAMPLE = 250_000  # pixels sampled for the cast estimate
_CAST_MIN, _CAST_FULL = 5.0, 12.0  # |cast| (CIELAB a*b* units): start / full correction
_UNIFORM_MIN, _UNIFORM_FULL = 0.7, 1.3  # |cast| / 90th-percentile spread of colours around it
_CAST_MAX_CORRECTION = 0.6  # at most this fraction of the cast is removed
_CLARITY_RADIUS = 12.0  # px per 1000 px of short side: the scale of the detail layer
_CLARITY_EPS = 400.0  # grey levels squared: edges stronger than ~20 levels stay in the base
_DARK_START, _DARK_FULL = 26.0, 22.0  # median L* of a colour photo: start / full midtone lift
_DARK_P99_START, _DARK_P99_FULL = 96.0, 90.0  # 99th-percentile L*: highlights missing too
_LIFT_TARGET = 0.30  # luminance median (0..1) a fully dark photo is lifted toward
_LIFT_MAX_GAMMA = 0.78  # strongest lift allowed (gamma on luminance)
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
    t = (float(lo.min()) - _FADE_START) / (_FADE_FULL - _FADE_START)
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
    amount = fade_amount(lo, hi if img.ndim == 2 else None)
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


def local_contrast(y: np.ndarray, strength: float) -> np.ndarray:
    """Blend CLAHE (Zuiderveld, Graphics Gems IV, 1994; cv2.createCLAHE) into luminance.

    y: H×W uint8 luminance. strength: 0..1 blend weight. Returns H×W uint8.
    """
    if strength <= 0:
        return y
    tiles = max(2, min(16, round(min(y.shape) / 128)))
    eq = cv2.createCLAHE(clipLimit=1.5, tileGridSize=(tiles, tiles)).apply(y)
    return cv2.addWeighted(y, 1.0 - strength, eq, strength, 0.0)


def clarity(y: np.ndarray, amount: float) -> np.ndarray:
    """Mid-scale local contrast without halos ("clarity").

    The base layer is an edge-preserving guided filter of luminance by itself (He, Sun & Tang,
    TPAMI 2013; radius `_CLARITY_RADIUS` px, eps `_CLARITY_EPS`): strong edges stay in the base,
    so boosting the detail layer (y - base) by `amount` lifts texture and shading without the
    bright/dark rims a large-radius unsharp mask draws along edges. y: H×W uint8. Returns H×W uint8.
    """
    if amount <= 0:
        return y
    radius = max(4, round(_CLARITY_RADIUS * min(y.shape) / 1000))
    base = cv2.ximgproc.guidedFilter(y, y, radius, _CLARITY_EPS)
    yf = y.astype(np.float32)
    out = yf + amount * (yf - base.astype(np.float32))
    return np.clip(out, 0, 255).round().astype(np.uint8)


def dark_amount(y: np.ndarray) -> tuple[float, float, float]:
    """0..1: how dark and compressed (low-key with no highlights) a colour photo is.

    y: H×W uint8 luminance (BT.601 Y). Measured on L* (CIELAB lightness of Y): the median below
    `_DARK_START` and the 99th percentile below `_DARK_P99_START` must both hold, so a normally
    exposed photo, or a dark scene with real highlights, scores 0. Returns (amount, median L*,
    99th-percentile L*).
    """
    hist = np.asarray(cv2.calcHist([y], [0], None, [256], [0, 256]).ravel(), np.float64)
    cdf = np.cumsum(hist) / max(hist.sum(), 1.0)
    med, p99 = (float(np.searchsorted(cdf, q)) for q in (0.5, 0.99))
    lstar = _lightness(np.array([med, p99]) / 255.0)
    a = np.clip((_DARK_START - lstar[0]) / (_DARK_START - _DARK_FULL), 0, 1)
    b = np.clip((_DARK_P99_START - lstar[1]) / (_DARK_P99_START - _DARK_P99_FULL), 0, 1)
    return float(a * b), float(lstar[0]), float(lstar[1])


def lift_midtones(y: np.ndarray, amount: float) -> tuple[np.ndarray, float]:
    """Gentle gamma lift of a dark photo's luminance, blended by `amount` (0..1).

    The gamma moves the luminance median toward `_LIFT_TARGET` (never below `_LIFT_MAX_GAMMA`);
    black and white stay put and highlights barely move. y: H×W uint8. Returns (H×W uint8, gamma).
    """
    if amount <= 0:
        return y, 1.0
    med = max(float(np.median(y)) / 255.0, 0.02)
    if med >= _LIFT_TARGET:
        return y, 1.0
    gamma = max(_LIFT_MAX_GAMMA, float(np.log(_LIFT_TARGET) / np.log(med)))
    gamma = 1.0 - amount * (1.0 - gamma)
    lut = np.clip(255.0 * (np.arange(256) / 255.0) ** gamma, 0, 255).round().astype(np.uint8)
    return cv2.LUT(y, lut), gamma


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


def _lightness(v: np.ndarray) -> np.ndarray:
    """CIELAB L* of sRGB-encoded grey values v (0..1)."""
    lin = _to_linear(v)
    return np.where(lin > 0.008856, 116.0 * np.cbrt(lin) - 16.0, 903.3 * lin)


def estimate_cast(rgb: np.ndarray) -> tuple[float, float, float]:
    """Global colour cast of an H×W×3 uint8 RGB photo, in CIELAB.

    Grey-world on the least coloured part: among mid-tone pixels (20 < L* < 85), the 30 % with
    the lowest chroma are the photo's would-be neutrals (walls, sky, skin in shadow, paper);
    their median a*, b* is the cast. Uniformity = |cast| / the 90th percentile of all mid-tone
    colours' distance from the cast: a cast from ageing tints everything alike (autochromes,
    faded dyes: > 1), a colourful scene spreads far around any estimate (< 0.5).
    Returns (a*, b*, uniformity).
    """
    scale = min(1.0, float(np.sqrt(_CAST_SAMPLE / (rgb.shape[0] * rgb.shape[1]))))
    small = (
        rgb
        if scale >= 1
        else cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    )
    lab = cv2.cvtColor(small.astype(np.float32) * (1 / 255), cv2.COLOR_RGB2LAB).reshape(-1, 3)
    mid = (lab[:, 0] > 20) & (lab[:, 0] < 85)
    if np.count_nonzero(mid) < 100:
        return 0.0, 0.0, 0.0
    a, b = lab[mid, 1], lab[mid, 2]
    chroma = np.hypot(a, b)
    grey = chroma <= np.percentile(chroma, 30)
    ca, cb = float(np.median(a[grey])), float(np.median(b[grey]))
    spread = float(np.percentile(np.hypot(a - ca, b - cb), 90))
    return ca, cb, float(np.hypot(ca, cb) / max(spread, 1.0))


def correct_cast(rgb: np.ndarray) -> tuple[np.ndarray, dict[str, object]]:
    """Remove part of a global colour cast (see `estimate_cast`) from an H×W×3 uint8 RGB photo.

    The fraction removed grows with the cast's size and uniformity, up to
    `_CAST_MAX_CORRECTION`; a photo without a clear, uniform cast is returned unchanged. The
    correction is a von Kries gain per channel in linear light (the estimated neutral is mapped
    to the grey of the same L*), applied through look-up tables. Returns (photo, record).
    """
    ca, cb, uniform = estimate_cast(rgb)
    size = float(np.hypot(ca, cb))
    k = _CAST_MAX_CORRECTION * float(
        np.clip((size - _CAST_MIN) / (_CAST_FULL - _CAST_MIN), 0, 1)
        * np.clip((uniform - _UNIFORM_MIN) / (_UNIFORM_FULL - _UNIFORM_MIN), 0, 1)
    )
    record: dict[str, object] = {
        "cast_ab": [round(ca, 1), round(cb, 1)],
        "uniformity": round(uniform, 2),
        "removed": round(k, 3),
    }
    if k <= 0:
        return rgb, record
    ref = np.array([[[60.0, ca, cb], [60.0, (1 - k) * ca, (1 - k) * cb]]], np.float32)
    src, dst = _to_linear(cv2.cvtColor(ref, cv2.COLOR_LAB2RGB)[0])
    gains = dst / np.maximum(src, 1e-4)
    x = _to_linear(np.arange(256, dtype=np.float32) / 255)
    luts = [
        np.clip(_from_linear(np.clip(x * g, 0, 1)) * 255, 0, 255).round().astype(np.uint8)
        for g in gains
    ]
    out = cv2.merge([cv2.LUT(ch, lut) for ch, lut in zip(cv2.split(rgb), luts, strict=True)])
    return out, record


def _to_linear(v: np.ndarray) -> np.ndarray:
    v = np.clip(v, 0, 1)
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


def _from_linear(v: np.ndarray) -> np.ndarray:
    return np.where(v <= 0.0031308, v * 12.92, 1.055 * np.power(v, 1 / 2.4) - 0.055)


_EARLY_WORK = 2_000_000  # pixels: centre crop measured by `early_colour_measures`
_EARLY_BLOCK = 16
_EARLY_S_GAMMA = 1.35  # midtone slope of the S-curve for a fully "early colour" photo
_EARLY_MAX_GAIN = 1.2  # strongest highlight stretch (luminance gain) of an early colour photo
_EARLY_WHITE = 225.0  # luminance the content's 99.5th percentile is stretched toward


def early_colour_measures(rgb: np.ndarray) -> tuple[float, float]:
    """Colourfulness and mid-scale detail of a colour photo (early colour processes are muted
    and soft).

    rgb: H×W×3 uint8; measured on a centre crop of at most `_EARLY_WORK` pixels, in CIELAB.
    Colourfulness: 90th percentile of |a*b*| over pixels with 10 < L* < 95 (a black vignette or
    blown paper carries no colour). Detail: per 16×16 block, the RMS of the L* difference of
    Gaussians (1 px / 3 px), then its 90th percentile over blocks: how crisp the most detailed
    tenth of the photo is (soft-focus portraits score low, sharp scenes high).
    Returns (colourfulness, detail); (0, 0) on images smaller than 4 blocks a side.
    """
    h, w = rgb.shape[:2]
    side = int(np.sqrt(_EARLY_WORK))
    if h * w > _EARLY_WORK:
        ch, cw = min(h, max(side, _EARLY_WORK // w)), min(w, max(side, _EARLY_WORK // h))
        y0, x0 = (h - ch) // 2, (w - cw) // 2
        rgb = rgb[y0 : y0 + ch, x0 : x0 + cw]
    b_ = _EARLY_BLOCK
    if min(rgb.shape[:2]) < 4 * b_:
        return 0.0, 0.0
    lab = cv2.cvtColor(rgb.astype(np.float32) * (1 / 255), cv2.COLOR_RGB2LAB)
    lum = lab[..., 0]
    mid = (lum > 10) & (lum < 95)
    if np.count_nonzero(mid) < 100:
        return 0.0, 0.0
    colourful = float(np.percentile(np.hypot(lab[..., 1], lab[..., 2])[mid], 90))
    s1 = cv2.GaussianBlur(lum, (0, 0), 1.0)
    band = s1 - cv2.GaussianBlur(lum, (0, 0), 3.0)
    bh, bw = band.shape[0] // b_, band.shape[1] // b_
    blocks = band[: bh * b_, : bw * b_].reshape(bh, b_, bw, b_).swapaxes(1, 2)
    rms = np.sqrt((blocks.reshape(bh * bw, b_ * b_) ** 2).mean(axis=1))
    return colourful, float(np.percentile(rms, 90))


def early_colour_tone(y: np.ndarray, amount: float) -> tuple[np.ndarray, dict[str, float]]:
    """Gentle tonal lift of a muted, soft early colour photo (autochrome), blended by `amount`.

    Two monotone curves on luminance, through one look-up table: a highlight stretch (gain up to
    `_EARLY_MAX_GAIN`, black fixed) bringing the 99.5th percentile of the content (pixels above
    16, so a black vignette does not count) toward `_EARLY_WHITE`, then a midtone S-curve
    pivoting on the content median (power curves below and above it: 0, the pivot and 255 stay
    put, the slope at the pivot is `_EARLY_S_GAMMA`). y: H×W uint8. Returns (H×W uint8, record).
    """
    if amount <= 0:
        return y, {"gain": 1.0, "s_gamma": 1.0}
    hist = np.asarray(cv2.calcHist([y], [0], None, [256], [0, 256]).ravel(), np.float64)
    hist[:16] = 0
    if hist.sum() < 100:
        return y, {"gain": 1.0, "s_gamma": 1.0}
    cdf = np.cumsum(hist) / hist.sum()
    white = max(float(np.searchsorted(cdf, 0.995)), 1.0)
    gain = 1.0 + amount * (float(np.clip(_EARLY_WHITE / white, 1.0, _EARLY_MAX_GAIN)) - 1.0)
    g = 1.0 + amount * (_EARLY_S_GAMMA - 1.0)
    x = np.minimum(np.arange(256, dtype=np.float64) * gain, 255.0)
    pivot = float(np.clip(np.searchsorted(cdf, 0.5) * gain, 32.0, 223.0))
    lo = pivot * (x / pivot) ** g
    hi = 255.0 - (255.0 - pivot) * ((255.0 - x) / (255.0 - pivot)) ** g
    lut = np.clip(np.where(x < pivot, lo, hi), 0, 255).round().astype(np.uint8)
    return cv2.LUT(y, lut), {"gain": round(gain, 3), "s_gamma": round(g, 3)}
