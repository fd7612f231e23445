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
_MIN_SIGMA = 1.5  # below this the photo is treated as clean
_BIG_PIXELS = 4_000_000
_GRAIN_SCALE = 2  # colour grain is smoothed on chroma shrunk this much
_GRAIN_DIAMETER = 7  # joint bilateral window at that scale (px)
_GRAIN_SIGMA_SPACE = 3.0  # its spatial sigma at that scale (px)
_GRAIN_SIGMA_COLOR = 4.0  # its range sigma (grey levels of Y, Cr, Cb together)


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


def smooth_chroma_grain(
    guide: np.ndarray,
    cr: np.ndarray,
    cb: np.ndarray,
    strength: float,
    scale: int = _GRAIN_SCALE,
    sigma_color: float = _GRAIN_SIGMA_COLOR,
) -> tuple[np.ndarray, np.ndarray]:
    """Remove low-amplitude colour grain coarser than a pixel (autochrome starch grains, dye
    clouds).

    Luminance and chroma are shrunk `scale`× (area average) and the chroma is smoothed there by
    a joint bilateral filter (Petschnigg et al., SIGGRAPH 2004; cv2.ximgproc.jointBilateralFilter)
    whose range weight looks at luminance and chroma together: only neighbours within about
    `sigma_color` grey levels in Y, Cr and Cb are averaged, so edges in either stay put while
    small colour blotches on a flat area are evened out. Only the change is enlarged and added
    back, so chroma detail finer than the grain is kept.
    guide: H×W uint8 (denoised) luminance; cr, cb: H×W uint8. strength: 0..1 user denoise
    strength (0 leaves chroma alone). Returns two H×W uint8 planes.
    """
    f = min(1.0, strength_factor(strength))
    if f <= 0 or min(guide.shape) < 16 * scale:
        return cr, cb
    h, w = guide.shape
    small = (max(1, w // scale), max(1, h // scale))
    planes = [cv2.resize(p, small, interpolation=cv2.INTER_AREA) for p in (cr, cb, guide)]
    src = cv2.merge(planes).astype(np.float32)  # float: 8-bit rounding here cost 0.2 dB
    smooth = cv2.ximgproc.jointBilateralFilter(
        src, src, _GRAIN_DIAMETER, sigma_color, _GRAIN_SIGMA_SPACE
    )
    diff = smooth - src
    out = []
    for c in range(2):
        delta = cv2.resize(diff[:, :, c] * f, (w, h), interpolation=cv2.INTER_LINEAR)
        out.append(np.clip((cr, cb)[c].astype(np.float32) + delta, 0, 255).round().astype(np.uint8))
    return out[0], out[1]


_MOTTLE_H = 10.0  # NLM hColor (8-bit CIELAB a*b* levels) of the strong colour-grain cleanup
_MOTTLE_RADIUS, _MOTTLE_EPS = 2, 9.0  # guided filter that re-aligns chroma to luminance edges


def remove_colour_mottle(
    guide: np.ndarray, cr: np.ndarray, cb: np.ndarray, amount: float
) -> tuple[np.ndarray, np.ndarray]:
    """Strong cleanup of coarse colour grain (autochrome starch-grain mottling).

    Run only where `noise.estimate_colour_grain` measured such grain. Chroma is denoised by
    OpenCV's colour non-local means (cv2.fastNlMeansDenoisingColored: patches matched on a*b*,
    strength `_MOTTLE_H`; its luminance output is discarded), then a guided filter steered by
    the luminance (He, Sun & Tang, TPAMI 2013; radius 2, eps 9) snaps colour edges back onto
    luminance edges, so colours stay inside their objects. The result is blended in by `amount`
    (0..1). guide: H×W uint8 (denoised) luminance; cr, cb: H×W uint8. Returns two H×W uint8 planes.
    """
    if amount <= 0:
        return cr, cb
    rgb = cv2.cvtColor(cv2.merge([guide, cr, cb]), cv2.COLOR_YCrCb2RGB)
    den = cv2.fastNlMeansDenoisingColored(rgb, None, 1.0, _MOTTLE_H, 5, 15)
    _, dcr, dcb = cv2.split(cv2.cvtColor(den, cv2.COLOR_RGB2YCrCb))
    out = []
    for src, d in ((cr, dcr), (cb, dcb)):
        g = cv2.ximgproc.guidedFilter(guide, d, _MOTTLE_RADIUS, _MOTTLE_EPS)
        out.append(cv2.addWeighted(src, 1.0 - amount, g, amount, 0.0))
    return out[0], out[1]
