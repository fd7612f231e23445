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


def estimate_half_scale_sigma(y: np.ndarray) -> float:
    """Noise sigma read in the finest wavelet band of a 2×-shrunk copy (area average).

    Film grain is coarser than a pixel (clumps of 2-3 px) and hides from the full-scale band; at
    half scale it shows, while iid noise halves. So a half-scale reading well above the
    full-scale one says "correlated grain" (`estimate_print_sigma`'s gate), but its value still
    under-reads the grain (a blurred-noise field of sigma 1 reads about 0.4-0.5 there): use
    `estimate_grain_sigma` for the amount. Returns the larger of the full-scale sigma and the
    half-scale one (grey levels). y: H×W uint8.
    """
    return _half_scale_sigma(y, estimate_noise_sigma(y))


def _half_scale_sigma(y: np.ndarray, full: float) -> float:
    """`estimate_half_scale_sigma` given the full-scale reading `full` already taken."""
    h, w = y.shape[:2]
    if min(h, w) < 4 * _BLOCK:
        return full
    half = cv2.resize(y, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
    return max(full, estimate_noise_sigma(half))


_GRAIN_BAND = 3.0  # px: Gaussian scale whose residual holds film grain (clumps up to ~4 px)
_GRAIN_BLOCK = 16  # px


def estimate_grain_sigma(y: np.ndarray) -> float:
    """Standard deviation of film grain, measured at the grain's own spatial scale.

    The wavelet bands above read correlated grain low (its energy is below their frequencies:
    grain blurred over 0.9 px reads about 0.25 of its sigma at full scale, 0.5 at half scale).
    Here the band is y minus its Gaussian blur at `_GRAIN_BAND` px, which holds grain of any
    clump size up to a few pixels (iid noise reads 0.93 of its sigma, grain blurred over 0.9 px
    0.8, and the blur and JPEG of a real print remove the rest of the difference): per
    16×16 block its standard deviation, and the 10th percentile over blocks (flat areas show
    the grain; clipped blocks are left out). This value includes fine texture where the photo
    has little flat area, so it is only used once the half-scale test says grain is present.
    y: H×W uint8. Returns sigma in grey levels (0.0 when the image is smaller than a block).
    """
    f = y.astype(np.float32)
    band = f - cv2.GaussianBlur(f, (0, 0), _GRAIN_BAND)
    h, w = y.shape[:2]
    bh, bw = h // _GRAIN_BLOCK, w // _GRAIN_BLOCK
    if bh == 0 or bw == 0:
        return 0.0
    n = _GRAIN_BLOCK
    blocks = band[: bh * n, : bw * n].reshape(bh, n, bw, n).swapaxes(1, 2).reshape(bh * bw, -1)
    means = f[: bh * n, : bw * n].reshape(bh, n, bw, n).swapaxes(1, 2).reshape(bh * bw, -1)
    means = means.mean(axis=1)
    keep = (means > 10) & (means < 245)
    if keep.sum() >= 8:
        blocks = blocks[keep]
    if blocks.shape[0] > _MAX_BLOCKS:
        blocks = blocks[:: blocks.shape[0] // _MAX_BLOCKS + 1]
    return float(np.percentile(blocks.std(axis=1), _PERCENTILE))


# When film grain is trusted (`estimate_print_sigma`): the half-scale reading is at least
# `_GRAIN_MIN` and `_GRAIN_RATIO` times the full-scale one (tune split: grainy prints read
# 2.4-4.2 times more at half scale, clean photos at most 2.2 with the half-scale reading above 3.3
# only on texture), and the flat areas confirm it: the grain reading is at least `_GRAIN_FLAT` of
# the half-scale one (every tune case that passes the first test reads 1.07-1.97; chosen at half
# the lowest, as tune has nothing below it; a clean page of text reads 0.18).
_GRAIN_MIN, _GRAIN_RATIO, _GRAIN_FLAT = 3.3, 2.3, 0.5


def estimate_print_sigma(y: np.ndarray) -> float:
    """Noise sigma of a monochrome print, film grain included.

    Film grain is coarser than a pixel and hides from the finest wavelet band
    (`estimate_noise_sigma`): it is present when the half-scale reading is clearly above the
    full-scale one, and its amount is then measured at its own scale (`estimate_grain_sigma`; the
    half-scale reading is about 0.6 of it on the tune prints). Grain covers the whole print, flat
    areas included, so they must show it too: a page of text or any fine detail with no noise at
    pixel scale reads high at half scale (its strokes fill the 64-px blocks of that reading) while
    its margins and line gaps read clean. y: H×W uint8 luminance. Returns sigma in grey levels:
    the grain's (at least the half-scale reading) when grain is present, else the full-scale one.
    """
    sigma = estimate_noise_sigma(y)
    half = _half_scale_sigma(y, sigma)
    if half >= _GRAIN_MIN and half >= _GRAIN_RATIO * sigma:
        grain = estimate_grain_sigma(y)
        if grain >= _GRAIN_FLAT * half:
            return max(half, grain)
    return sigma
