"""Blur measurement and regularised deconvolution of luminance.

Blur: the re-blur gradient ratio of Zhuo & Sim ("Defocus map estimation from a single image",
Pattern Recognition 44(9), 2011). A step edge blurred by a Gaussian of sigma s has a peak
gradient proportional to 1/s; blurred again by s0 it becomes 1/sqrt(s² + s0²), so the ratio R
of the two peaks gives s = s0 / sqrt(R² - 1). The median over strong edges is the photo's blur.

Deconvolution: constrained least squares with a Laplacian smoothness term (Gonzalez & Woods,
"Digital Image Processing", §5.9): F = G* / (|G|² + lam |L|²) for a Gaussian OTF G. The filter is
built on a small frequency grid and applied as a spatial kernel (cv2.filter2D), so memory stays
one float plane on a 24-MP scan.
"""

from __future__ import annotations

import cv2
import numpy as np

_S0 = 1.0  # px, the re-blur of the gradient-ratio estimate
_MIN_BLUR = 1.1  # px; tune split: clean photos read 0.57-0.87; a 0.25-px margin above them
_SHARP = 0.6  # px: what a sharp photo reads (pixel sampling), not deconvolved
_LAMBDA = 0.06  # CLS weight at the reference noise level (tune split: 0.003-0.2 tried)
_NOISE_REF = 2.0  # grey levels; above it lam grows with the noise variance (amplify no noise)
_MAX_SIGMA = 3.0  # px: the largest blur undone
_GRID = 64  # frequency grid the kernel is designed on (kernel radius at most 11 px)
_TILE, _TILES_SIDE = 1024, 4  # big scans: blur read on at most 4×4 tiles of 1024 px


def estimate_blur_sigma(y: np.ndarray, noise_sigma: float) -> float:
    """Gaussian blur sigma of luminance, from the re-blur gradient ratio at strong edges.

    y: H×W uint8 luminance 0-255 (denoised). noise_sigma: residual noise, grey levels; edges
    must stand clearly above it. A big scan is read on at most `_TILES` tiles of `_TILE` px
    spread over it (bounded time and memory; the blur of a print is global).
    Returns sigma in pixels (0.0 when fewer than 200 edge pixels are found).
    """
    h, w = y.shape
    if h * w <= _TILES_SIDE * _TILE * _TILE:
        parts = [_edge_ratios(y, noise_sigma)]
    else:
        th, tw = min(h, _TILE), min(w, _TILE)
        ys = np.linspace(0, h - th, _TILES_SIDE).astype(int)
        xs = np.linspace(0, w - tw, _TILES_SIDE).astype(int)
        parts = [_edge_ratios(y[a : a + th, b : b + tw], noise_sigma) for a in ys for b in xs]
    ratio = np.concatenate(parts)
    ratio = ratio[ratio > 1.01]
    if ratio.size < 200:
        return 0.0
    return float(np.median(_S0 / np.sqrt(ratio * ratio - 1.0)))


def _edge_ratios(y: np.ndarray, noise_sigma: float) -> np.ndarray:
    """Gradient magnitude over that of the `_S0` re-blur, at Canny edges clearly above noise."""
    f = y.astype(np.float32)
    r = cv2.GaussianBlur(f, (0, 0), _S0)
    g = cv2.magnitude(cv2.Sobel(f, cv2.CV_32F, 1, 0), cv2.Sobel(f, cv2.CV_32F, 0, 1))
    gr = cv2.magnitude(cv2.Sobel(r, cv2.CV_32F, 1, 0), cv2.Sobel(r, cv2.CV_32F, 0, 1))
    # Sobel units (8× grey levels per px at a unit step): far above the residual noise.
    lo = max(40.0, 16.0 * noise_sigma)
    edges = cv2.Canny(np.ascontiguousarray(y), lo, 2.0 * lo, L2gradient=True) > 0
    edges &= gr > lo
    return np.asarray(g[edges] / gr[edges], dtype=np.float32)


def cls_kernel(sigma: float, lam: float) -> np.ndarray:
    """Spatial CLS deconvolution kernel for a Gaussian blur of `sigma` px (at most 3).

    lam: weight of the Laplacian smoothness term (dimensionless; larger = gentler). The filter
    G / (G² + lam |L|²) is sampled on a 64×64 frequency grid, inverse-transformed and cropped.
    Returns a (2r+1)×(2r+1) float32 kernel summing to 1 (r = ceil(3 sigma) + 2), so flat areas
    keep their level.
    """
    fy = np.fft.fftfreq(_GRID)[:, None]
    fx = np.fft.fftfreq(_GRID)[None, :]
    otf = np.exp(-2.0 * np.pi**2 * sigma**2 * (fx * fx + fy * fy))
    lap = (4.0 * np.sin(np.pi * fx) ** 2 + 4.0 * np.sin(np.pi * fy) ** 2) ** 2
    k = np.real(np.fft.ifft2(otf / (otf * otf + lam * lap)))
    k = np.fft.fftshift(k)
    r = int(np.ceil(3.0 * sigma)) + 2
    c = _GRID // 2
    k = k[c - r : c + r + 1, c - r : c + r + 1]
    return (k / k.sum()).astype(np.float32)


def deblur_luma(y: np.ndarray, noise_sigma: float) -> tuple[np.ndarray, float]:
    """Measure the blur of `y` and undo it when it is clearly above a sharp photo's.

    y: H×W uint8 luminance 0-255, after denoising. noise_sigma: residual noise (grey levels),
    which raises the regularisation so that noise is not amplified.
    The blur undone is sqrt(s² - `_SHARP`²), capped at `_MAX_SIGMA`: the sampling blur every
    photo shows is kept. Cost: about 0.04 CPU s/MP.
    Returns (H×W uint8, the measured blur sigma in px); `y` itself (the same object) when the
    blur is below `_MIN_BLUR` or cannot be measured (fewer than 200 strong edge pixels).
    """
    s = estimate_blur_sigma(y, noise_sigma)
    if s < _MIN_BLUR:
        return y, s
    sd = float(np.sqrt(min(s, _MAX_SIGMA) ** 2 - _SHARP**2))
    lam = _LAMBDA * max(1.0, noise_sigma / _NOISE_REF) ** 2
    out = cv2.filter2D(y.astype(np.float32), -1, cls_kernel(sd, lam), borderType=cv2.BORDER_REFLECT)
    return np.clip(out, 0, 255).round().astype(np.uint8), s
