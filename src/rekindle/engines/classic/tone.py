"""Fade (levels, which also neutralises a faded print's cast) and exposure correction, each only when
measured to be needed.

A faded print is the photo blended toward its paper colour: every channel's black point rises
(shadows wash out) and the paper's tint rides on top. So the decision to act is taken on the
black points: when all channels' shadows are lifted, the levels are reset per channel, which
also neutralises the cast; a photo with deep blacks is left alone. This is the classic
"auto levels with clipping" (e.g. GIMP's Levels > Auto), gated and blended by how faded it is,
with one difference: the blend toward the paper, x' = (1 - f) x + f p, shrinks every channel's
range by the same factor (1 - f), so the channels share one gain (read on the widest channel)
and only their black points are reset apiece. A channel whose range is narrower than the widest
one's is narrow by the scene's own colour (a warm photo has no bright blue), not by the fade;
stretching it to full range, as auto levels does, turned warm photos blue (benchmarks/quality,
tune split: mcmaster-09 faded 16.1 dB). The exception is a channel whose black point is lifted
more than the widest one's: its dye faded more, and it is stretched back by what that lift
explains (`channel_gains`). And a fade never darkens the white (the paper is at least as bright
as the print's white), so a white below the target is the scene's and stays where it is: a
flat-lit or mid-key photo is not given contrast it never had.
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
# A channel's own gain may exceed the widest channel's by this fraction at most: about the
# uncertainty of a 0.5 %-quantile range reading (1-3 grey levels of 130-170) on a faded photo.
# Tune split: 0, 2, 5, 10 and 20 % tried; 2 % gave the best faded mean (0 % lost 1.5-4 dB on
# neutral photos whose per-channel readings differ by noise alone; 20 % kept most of the harm).
_CHANNEL_GAIN_TOL = 0.02
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
    """Reset the black and white points when the photo is faded, blended by how faded.

    img: H×W×3 (RGB) or H×W (luminance) uint8. Each channel's black point (0.5 % quantile) goes
    to `_T_LO`; the widest channel's range is stretched up to the print's brightest white, or to
    `_T_HI` when that is higher (a fade never darkens the white), and every channel is scaled by
    that same gain unless its own fade explains more (`channel_gains`), so the scene's own
    colour balance in the highlights is kept (see the module docstring). Returns the corrected
    image (same shape, uint8) and a record: black/white points found, fade amount 0..1, the
    gains used, whether cast correction ran, and for luminance (a monochrome print) the midtone
    gamma that keeps its median (`_keep_median`). Raises nothing; a photo that is not faded
    comes back as the same object.
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
    gains = channel_gains(lo, hi)
    record["gains"] = gains.round(3).tolist()
    for c in range(lo.size):
        full = (x - lo[c]) * gains[c] + _T_LO
        luts.append(np.clip(x + amount * (full - x), 0, 255).round().astype(np.uint8))
    if img.ndim == 2:
        lut, record["midtone_gamma"] = _keep_median(img, luts[0], int(hi[0]))
        return cv2.LUT(img, lut), record
    return cv2.merge(
        [cv2.LUT(ch, lut) for ch, lut in zip(cv2.split(img), luts, strict=True)]
    ), record


def channel_gains(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """The levels gain of each channel of a faded photo.

    lo, hi: float arrays of length C (black and white points, grey levels, as `channel_levels`
    gives). The fade model x' = (1 - f) x + f p shrinks all channels' ranges alike, so the common
    gain is the one that brings the widest channel's black point to `_T_LO` and its range to
    span up to the print's brightest white (any channel's), or to `_T_HI` when that is higher:
    the paper p is at least as bright as that white, so a fade lifts the blacks and never darkens
    it, and a white below `_T_HI` is the scene's (a flat or mid-key photo), not the fade's. The
    widest channel takes exactly that gain. Another channel may be stretched beyond it, up to its
    own full-range gain, by what its own fade explains: by `_CHANNEL_GAIN_TOL` (the reading's
    noise), or, when its black point is lifted more than the widest channel's (a dye that faded
    more: cyan dye loss lifts red), by (1 - f_w) / (1 - f_c) with f = black point / 255. A
    channel that is narrow with an unlifted black point is narrow by the scene's colour and keeps
    the common gain. Every gain is capped at `_MAX_GAIN`. Returns a float64 array of length C.

    Tune split: mcmaster-09 faded 16.1 -> 41.9 dB; the dye term adds 0.08 dB to faded and 0.10
    to aged (set5-head, mcmaster-01) and brings the red of the real print faded-boy-glasses
    (black points 50 / 35 / 36) part of the way back (gain 1.21; per-channel levels: 1.30).
    Keeping a lower white (classic-11): mean gain 5.56 -> 5.95 dB on tune, 4.64 -> 5.36 on
    validation; skimage's undamaged brick wall 19.96 -> 26.1 dB (docs/benchmarks.md).
    """
    span = _T_HI - _T_LO
    own = np.minimum(_MAX_GAIN, span / np.maximum(hi - lo, 1.0))
    widest = int(np.argmax(hi - lo))
    # The paper is at least as bright as the print's brightest white: a fade lifts the blacks
    # toward it and never darkens that white, so a white below the target is the scene's and
    # stays where it is (stretching it further is a contrast boost, not a fade undone).
    white = min(_T_HI, float(np.max(hi)))
    common = min(_MAX_GAIN, max(white - _T_LO, 1.0) / max(float(hi[widest] - lo[widest]), 1.0))
    # A dye that fades more than the others lifts its channel's black point more and shrinks its
    # range more: x'_c = (1 - f_c) x_c + f_c 255 gives f_c = lo_c / 255 and a range narrower than
    # the widest channel's w by (1 - f_c) / (1 - f_w), which that channel may be stretched back.
    fade = np.clip(lo / 255.0, 0.0, 0.95)
    extra = np.maximum(1.0 + _CHANNEL_GAIN_TOL, (1.0 - fade[widest]) / (1.0 - fade))
    extra[widest] = 1.0
    return np.minimum(own, common * extra)


def _keep_median(y: np.ndarray, lut: np.ndarray, white: int) -> tuple[np.ndarray, float]:
    """Compose a midtone gamma after the levels `lut` of a monochrome print when the stretch
    would lower its median luminance by more than (1 - `_MONO_KEEP_MEDIAN`).

    Resetting the black point of a sepia print whose darkest tones sit at grey level 50 maps its
    whole range down (the white point barely moves): scratch-couple-soldier's median fell from
    101 to 74 and its faces and background turned heavy. The gamma brings the median back to
    90 % of the input's; black and the print's white stay put (the gamma works below the level
    `lut` gives the white), so the contrast gained is kept and the white is not raised.
    y: H×W uint8; lut: 256 uint8; white: the print's white point (grey level). Returns (the
    composed table, the gamma; 1.0 when unchanged).
    """
    hist = np.bincount(y.ravel(), minlength=256)
    median = int(np.searchsorted(np.cumsum(hist), 0.5 * y.size))
    before, after = float(median), float(lut[median])
    top = float(lut[white])
    target = _MONO_KEEP_MEDIAN * before
    if after >= target or after < 8.0 or target >= top:
        return lut, 1.0
    gamma = float(np.log(target / top) / np.log(after / top))
    x = lut.astype(np.float64)
    below = x < top
    x[below] = top * (x[below] / top) ** gamma
    return np.clip(x, 0, 255).round().astype(np.uint8), round(gamma, 3)


def _to_linear(v: np.ndarray) -> np.ndarray:
    v = np.clip(v, 0, 1)
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


def _from_linear(v: np.ndarray) -> np.ndarray:
    return np.where(v <= 0.0031308, v * 12.92, 1.055 * np.power(v, 1 / 2.4) - 0.055)


_EXPOSE_START, _EXPOSE_FULL = 150.0, 110.0  # 99.5th-percentile luminance: start / full gain
_EXPOSE_TARGET = 235.0  # where that percentile is brought (grey levels)


def correct_exposure(img: np.ndarray, y: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """Brighten an underexposed photo: one with no highlights at all.

    img: H×W×3 RGB or H×W luminance, uint8. A photo whose 99.5th-percentile luminance (BT.601)
    is below `_EXPOSE_START` (a dark scene with a lamp, a window or a white collar has highlights
    and is left alone) gets one gain in linear light (sRGB transfer, IEC 61966-2-1), the same on
    every channel, that brings its brightest channel's 99.5th percentile to `_EXPOSE_TARGET`,
    blended in fully below `_EXPOSE_FULL`: the exposure a camera missed, undone the way it
    happened. The gain is read on the brightest channel, not on luminance: a warm scene's red
    reaches white while its luminance stays near 190, and bringing luminance to white overshot
    it (tune split: mcmaster-09 underexposed 16.2 dB, 27.1 with the channel). Applying it to all
    channels alike keeps the colours' saturation (a luminance gain with chroma scaled at most
    1.3× greyed them). Returns (the same shape, uint8; the linear gain), or (`img` itself, 1.0)
    when left alone. y: the photo's H×W uint8 luminance when the caller has it (saves one
    conversion), else computed. Raises nothing.
    """
    if y is None:
        y = img if img.ndim == 2 else cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    hi_y = float(channel_levels(y)[1][0])
    amount = float(np.clip((_EXPOSE_START - hi_y) / (_EXPOSE_START - _EXPOSE_FULL), 0, 1))
    if amount <= 0:
        return img, 1.0
    hi = float(channel_levels(img)[1].max())
    lin = _to_linear(np.array([_EXPOSE_TARGET, max(hi, 8.0)], np.float32) / 255)
    gain = float(lin[0] / lin[1])
    gain = 1.0 + amount * (gain - 1.0)
    x = _to_linear(np.arange(256, dtype=np.float32) / 255)
    lut = np.clip(_from_linear(np.clip(x * gain, 0, 1)) * 255, 0, 255).round().astype(np.uint8)
    return cv2.LUT(img, lut), round(gain, 3)
