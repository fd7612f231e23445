"""Noise level estimation on luminance.

The finest diagonal Haar wavelet band (HH) holds mostly noise (Donoho & Johnstone, Biometrika
1994). Per 32×32 block we take sigma = sqrt(pi/2) * mean|HH| (the Gaussian mean-absolute
estimator; a median would be quantised by 8-bit pixels), then a low percentile over blocks, so
that texture and edges (which inflate HH) do not pass for noise: flat areas show the noise.
"""

from __future__ import annotations

import cv2
import numpy as np

_BLOCK = 16  # HH coefficients per block side (32 px of image)
_MAX_BLOCKS = 20000
_PERCENTILE = 10  # the flattest tenth of the photo tells the noise  # bound the work on 24-MP scans: a spread-out subsample is enough


def estimate_noise_sigma(y: np.ndarray) -> float:
    """Estimate the standard deviation of additive noise in `y`.

    y: H×W uint8 (or float) luminance, 0-255. Returns sigma in 0-255 grey levels (0.0 when the
    image is smaller than one block).
    """
    h, w = y.shape[:2]
    h2, w2 = (h // 2) * 2, (w // 2) * 2
    a = y[:h2:2, :w2:2].astype(np.float32)
    b = y[:h2:2, 1:w2:2].astype(np.float32)
    c = y[1:h2:2, :w2:2].astype(np.float32)
    d = y[1:h2:2, 1:w2:2].astype(np.float32)
    hh = np.abs(a - b - c + d) * 0.5  # orthonormal Haar: iid noise sigma keeps its sigma
    bh, bw = hh.shape[0] // _BLOCK, hh.shape[1] // _BLOCK
    if bh == 0 or bw == 0:
        return 0.0
    blocks = _blocks(hh, bh, bw)
    means = _blocks(a, bh, bw).mean(axis=1)
    del a, b, c, d, hh
    # Clipped blocks (black borders, blown skies) carry no noise and would fake a clean photo.
    keep = (means > 10) & (means < 245)
    if keep.sum() >= 8:
        blocks = blocks[keep]
    if blocks.shape[0] > _MAX_BLOCKS:
        step = blocks.shape[0] // _MAX_BLOCKS + 1
        blocks = blocks[::step]
    per_block = blocks.mean(axis=1) * np.sqrt(np.pi / 2)
    return float(np.percentile(per_block, _PERCENTILE))


def _blocks(x: np.ndarray, bh: int, bw: int) -> np.ndarray:
    """(bh*bw)×(_BLOCK²) view-copy of the top-left bh×bw blocks of `x`."""
    v = x[: bh * _BLOCK, : bw * _BLOCK].reshape(bh, _BLOCK, bw, _BLOCK).swapaxes(1, 2)
    return v.reshape(bh * bw, _BLOCK * _BLOCK)


def estimate_grain_sigma(y: np.ndarray) -> float:
    """Noise sigma of film grain, which is coarser than a pixel (clumps of 2-3 px).

    The finest wavelet band of a 2×-shrunk copy (area average) sees grain that the full-scale
    band misses: averaging 2×2 pixels halves iid noise but barely touches grain correlated over
    2 px. Returns the larger of the full-scale sigma and the half-scale one (grey levels).
    y: H×W uint8.
    """
    full = estimate_noise_sigma(y)
    h, w = y.shape[:2]
    if min(h, w) < 4 * _BLOCK:
        return full
    half = cv2.resize(y, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
    return max(full, estimate_noise_sigma(half))


_GRAIN_WORK = 2_000_000  # pixels: a centre crop this big keeps the grain's pixel scale
_GRAIN_BLOCK = 16


def estimate_colour_grain(rgb: np.ndarray) -> tuple[float, float]:
    """How loud autochrome-like colour grain (random colour dots 2-4 px across) is.

    rgb: H×W×3 uint8. Works in CIELAB on a centre crop of at most `_GRAIN_WORK` pixels (a crop,
    not a shrink, so the grain keeps its size in pixels). Per 16×16 block: the coarse structure
    (standard deviation of L*, a*, b* after a Gaussian blur of 4 px) and the chroma energy of the
    2-4 px band (a*, b* difference of Gaussians 1 px / 2.5 px). Grain is measured in the quarter
    of mid-tone blocks with the least coarse structure (walls, sky, skin): a clean photo's smooth
    areas carry no fine colour detail, an autochrome's are covered in coloured dots. That floor
    is divided by the photo's colourfulness (90th percentile of |a*b*| + 5): the grain of an
    autochrome is loud against its muted palette, the colour texture of a clean saturated photo
    (stained glass, flowers) is not.
    Returns (score, coarse_to_fine): score is about 10 × grain / colourfulness (autochromes
    0.7-1.2, clean photos at most 0.45, see docs/benchmarks.md); coarse_to_fine is the median
    ratio of the 2-4 px chroma band to the 1 px band, which tells coarse grain (> 0.6) from iid
    sensor noise (< 0.5).
    """
    h, w = rgb.shape[:2]
    side = int(np.sqrt(_GRAIN_WORK))
    if h * w > _GRAIN_WORK:
        ch, cw = min(h, max(side, _GRAIN_WORK // w)), min(w, max(side, _GRAIN_WORK // h))
        y0, x0 = (h - ch) // 2, (w - cw) // 2
        rgb = rgb[y0 : y0 + ch, x0 : x0 + cw]
    b_ = _GRAIN_BLOCK
    if min(rgb.shape[:2]) < 4 * b_:
        return 0.0, 0.0
    lab = cv2.cvtColor(rgb.astype(np.float32) * (1 / 255), cv2.COLOR_RGB2LAB)
    planes = cv2.split(lab)

    def blur(x: np.ndarray, s: float) -> np.ndarray:
        return cv2.GaussianBlur(x, (0, 0), s)

    def blocks(x: np.ndarray) -> np.ndarray:
        bh, bw = x.shape[0] // b_, x.shape[1] // b_
        v = x[: bh * b_, : bw * b_].reshape(bh, b_, bw, b_).swapaxes(1, 2)
        return v.reshape(bh * bw, b_ * b_)

    mean_l = blocks(planes[0]).mean(axis=1)
    keep = (mean_l > 10) & (mean_l < 95)
    if np.count_nonzero(keep) < 8:
        return 0.0, 0.0
    structure = np.sqrt(sum(blocks(blur(p, 4.0)).var(axis=1) for p in planes))[keep]
    band = [blur(p, 1.0) - blur(p, 2.5) for p in planes[1:]]
    fine = [p - blur(p, 1.0) for p in planes[1:]]
    e_band = np.sqrt(sum((blocks(d) ** 2).mean(axis=1) for d in band))[keep]
    e_fine = np.sqrt(sum((blocks(d) ** 2).mean(axis=1) for d in fine))[keep]
    smooth = structure <= np.percentile(structure, 25)
    floor = float(np.median(e_band[smooth]))
    colourful = float(np.percentile(np.hypot(planes[1], planes[2]), 90))
    return 10.0 * floor / (colourful + 5.0), float(np.median(e_band / (e_fine + 0.2)))
