"""A blurred photo is measured as blurred and deconvolved; a sharp one is left alone (issue 11:
the blur-dominated presets gained least, because classic did not deblur)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from rekindle.engines.classic import deblur, restore_array


def _chart() -> np.ndarray:
    """A 256×320 uint8 gray chart of sharp-edged bars and blocks, with deep shadows and
    highlights (so no levels or exposure step runs)."""
    img = np.full((256, 320), 128, np.uint8)
    for i, x in enumerate(range(16, 300, 24)):
        img[20:120, x : x + 12] = 30 if i % 2 else 220
    rng = np.random.default_rng(7)
    for _ in range(30):
        y0, x0 = rng.integers(130, 230), rng.integers(10, 290)
        img[y0 : y0 + 20, x0 : x0 + 24] = int(rng.integers(20, 236))
    img[236:250, 10:60], img[236:250, 260:310] = 5, 250
    return img


def _edge_slope(y: np.ndarray) -> float:
    """Mean gradient magnitude at the bars' edges (grey levels per px)."""
    f = y.astype(np.float32)
    return float(np.abs(np.diff(f[30:110], axis=1)).max(axis=1).mean())


def _psnr(ref: np.ndarray, img: np.ndarray) -> float:
    mse = float(np.mean((ref.astype(np.float64) - img.astype(np.float64)) ** 2))
    return 10.0 * np.log10(255.0**2 / mse)


@pytest.mark.parametrize("sigma", [1.5, 2.0])
def test_blur_is_measured(sigma: float) -> None:
    blurred = cv2.GaussianBlur(_chart(), (0, 0), sigma)
    assert abs(deblur.estimate_blur_sigma(blurred, 0.5) - sigma) < 0.35 * sigma


@pytest.mark.parametrize("sigma", [1.5, 2.0])
def test_a_blurred_chart_comes_back_sharper_and_closer(sigma: float) -> None:
    sharp = _chart()
    blurred = cv2.GaussianBlur(sharp, (0, 0), sigma)
    out, report = restore_array(blurred)
    y = cv2.cvtColor(out, cv2.COLOR_RGB2GRAY)
    assert report["steps"]["deblur"]["ran"]
    # Regularised for noise, so a partial recovery: steeper edges and a lower squared error
    # (about +0.5 dB here).
    assert _edge_slope(y) > 1.1 * _edge_slope(blurred)
    assert _psnr(sharp, y) > _psnr(sharp, blurred) + 0.3


def test_a_sharp_photo_is_not_deconvolved() -> None:
    sharp = _chart()
    # Optics and scanning leave a sharp photo slightly soft: 0.6 px.
    soft = cv2.GaussianBlur(sharp, (0, 0), 0.6)
    out, report = restore_array(soft)
    assert not report["steps"]["deblur"]["ran"]
    np.testing.assert_array_equal(cv2.cvtColor(out, cv2.COLOR_RGB2GRAY), soft)
