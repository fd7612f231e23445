"""Issue 11: the tone steps must not take a photo's own colour for damage.

A warm photo (sunset, candle light, tungsten, a red-brown interior) has no bright blue: its blue
channel's range is narrow by the scene, not by fading. classic-8 reset the levels of a faded
photo channel by channel, each to full range, and brought an underexposed photo's *luminance*
to near white; both turned such a photo cold and too bright (benchmarks/quality: mcmaster-13
faded 11.6 dB, mcmaster-09 16.1 dB against a mean of 31). A fade shrinks every channel's range
alike, and a warm scene's brightest channel, not its luminance, is the one that reaches white.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import skimage.data

from rekindle.engines.classic import restore_array, tone
from tests.support.services import shared_photo

WARM = np.array([1.0, 0.78, 0.55], np.float32)  # R, G, B: tungsten-like balance


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255**2 / max(mse, 1e-12)))


def _fade(rgb: np.ndarray, f: float = 0.38) -> np.ndarray:
    """The benchmark's fade: a blend toward yellowed paper by `f`."""
    paper = np.array([242, 225, 185], np.float32)
    return np.clip(rgb.astype(np.float32) * (1 - f) + paper * f, 0, 255).round().astype(np.uint8)


def _underexpose(rgb: np.ndarray, k: float = 0.2, sigma: float = 3.0) -> np.ndarray:
    """The benchmark's underexposure: linear light × `k`, then noise of `sigma` grey levels."""
    rng = np.random.default_rng(11)
    lin = (rgb.astype(np.float32) / 255.0) ** 2.2 * k
    out = 255.0 * lin ** (1 / 2.2) + rng.normal(0.0, sigma, rgb.shape)
    return np.clip(out, 0, 255).round().astype(np.uint8)


def _warm(scene: np.ndarray) -> np.ndarray:
    """The test scene (deep blacks, a near-white patch) lit warm: blue at most about 135."""
    return np.clip(scene.astype(np.float32) * WARM, 0, 255).round().astype(np.uint8)


def _luma(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)


def _blue_over_red(rgb: np.ndarray) -> float:
    means = rgb.reshape(-1, 3).astype(np.float64).mean(axis=0)
    return float(means[2] / means[0])


def test_fade_shrinks_every_channel_alike_so_levels_share_one_gain() -> None:
    lo = np.array([82.0, 75.0, 60.0])  # mcmaster-09 faded (tune split): a warm scene
    hi = np.array([250.0, 200.0, 156.0])
    gains = tone.channel_gains(lo, hi)
    assert np.ptp(gains) <= 0.02 * gains.min() + 1e-9
    assert gains[0] == pytest.approx(246.0 / 168.0)
    # A neutral photo's channels keep their own gains when they differ by reading noise only.
    # (Within 1 %: its whites, 249 at most, stay where they are instead of going to 250.)
    lo_n, hi_n = np.array([88.0, 84.0, 65.0]), np.array([249.0, 246.0, 227.0])
    own = 246.0 / (hi_n - lo_n)
    assert np.allclose(tone.channel_gains(lo_n, hi_n), own, rtol=0.01)
    # A dye that faded more lifts its black point more and shrinks its range more: that channel
    # is stretched back by what its lift explains (real print faded-boy-glasses: red).
    lo_d, hi_d = np.array([50.0, 35.0, 36.0]), np.array([240.0, 245.0, 254.0])
    gains = tone.channel_gains(lo_d, hi_d)
    common = 246.0 / 218.0
    assert gains[2] == pytest.approx(common)
    assert gains[0] == pytest.approx(common * (1 - 36 / 255) / (1 - 50 / 255))


def test_a_fade_never_darkens_the_whites_so_a_lower_white_stays_where_it_is() -> None:
    # The paper is at least as bright as the print's white: blacks lifted with whites at 190
    # are a mid-key scene's whites, not a fade's. classic-10 stretched them to 250 (gain
    # 246 / 110): skimage's brick wall, undamaged, came back at 20.0 dB (classic-11: 26.1).
    gains = tone.channel_gains(np.array([80.0]), np.array([190.0]))
    assert gains[0] == pytest.approx((190.0 - 4.0) / 110.0)
    warm = tone.channel_gains(np.array([70.0, 60.0, 50.0]), np.array([200.0, 170.0, 140.0]))
    assert warm[0] == pytest.approx((200.0 - 4.0) / 130.0)  # the widest channel keeps its white
    # A white at or above the target still goes to the target.
    assert tone.channel_gains(np.array([80.0]), np.array([252.0]))[0] == pytest.approx(246 / 172)


def test_a_flat_mid_key_print_keeps_its_whites(scene: np.ndarray) -> None:
    gray = cv2.cvtColor(scene, cv2.COLOR_RGB2GRAY).astype(np.float32)
    flat = np.clip(80 + gray * (190 - 80) / 255, 0, 255).round().astype(np.uint8)
    out, report = restore_array(np.dstack([flat, flat, flat]))
    assert report["steps"]["tone"]["applied"]
    white_in, white_out = np.percentile(flat, 99.5), np.percentile(_luma(out), 99.5)
    assert abs(white_out - white_in) <= 3, (white_in, white_out)  # classic-10: 250


def test_an_undamaged_flat_photo_from_outside_the_benchmark_is_not_given_contrast() -> None:
    # skimage's brick wall (shipped in its wheel; blacks near 78, whites near 193): a flat scene,
    # not a faded print. classic-10 stretched it to full range: 19.96 dB against itself.
    gray = cv2.resize(skimage.data.brick(), (384, 384), interpolation=cv2.INTER_AREA)
    out, report = restore_array(np.dstack([gray, gray, gray]))
    assert _psnr(_luma(out), gray) > 24.0, report["steps"]["tone"]
    assert np.percentile(_luma(out), 99.5) <= np.percentile(gray, 99.5) + 3


def test_a_faded_warm_photo_comes_back_warm(scene: np.ndarray) -> None:
    warm = _warm(scene)
    faded = _fade(warm)
    out, report = restore_array(faded)
    assert report["steps"]["tone"]["applied"]
    # classic-8 stretched blue to full range: 18.7 dB, blue/red 0.73 against the scene's 0.43
    # (now 40.3 dB, 0.43).
    assert _psnr(out, warm) > 30, report["steps"]["tone"]
    assert abs(_blue_over_red(out) - _blue_over_red(warm)) < 0.05
    # A faded photo with neutral whites is still neutralised: the paper's cast is an offset per
    # channel (test_classic_steps.py::test_known_cast_and_fade_are_neutralised).
    gray = cv2.cvtColor(cv2.cvtColor(scene, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
    out_gray, _ = tone.correct_levels(_fade(gray))
    assert np.ptp(out_gray.reshape(-1, 3).mean(axis=0)) < 6


def test_an_underexposed_warm_photo_keeps_its_colour_and_key(scene: np.ndarray) -> None:
    warm = _warm(scene)
    dark = _underexpose(warm)
    out, report = restore_array(dark)
    assert report["steps"]["tone"]["exposure_gain"] > 2
    assert not report["steps"]["analysis"]["monochrome"]
    # classic-8 brought luminance, not red, to near white and then stretched the levels: 18.5 dB,
    # blue/red 0.68 against 0.43 (now 29.9 dB, 0.48).
    assert _psnr(out, warm) > 25, report["steps"]
    assert abs(_blue_over_red(out) - _blue_over_red(warm)) < 0.1


def _reference(name: str) -> np.ndarray:
    """A clean reference photo (skips without ../shared), H×W×3 uint8 RGB, longest side 384 px."""
    rgb = cv2.cvtColor(
        cv2.imread(str(shared_photo(f"clean-reference/{name}")), cv2.IMREAD_COLOR),
        cv2.COLOR_BGR2RGB,
    )
    scale = 384 / max(rgb.shape[:2])
    return cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)


def test_warm_reference_faded_and_underexposed() -> None:
    """mcmaster-09 (tune split, a warm photo: its blue never passes 146) through the benchmark's
    fade and underexposure: classic-8 made it 15.9 and 16.6 dB (now 41.7 and 28.0); it must
    come back above 30 and 24 dB."""
    rgb = _reference("mcmaster-09.tif")
    out, report = restore_array(_fade(rgb))
    assert _psnr(out, rgb) > 30, report["steps"]["tone"]
    out, report = restore_array(_underexpose(rgb, 0.2, 3.0))
    assert _psnr(out, rgb) > 24, report["steps"]


def test_a_dark_colour_photo_is_not_taken_for_monochrome() -> None:
    """mcmaster-16 (tune split: a yellow-green scene) 2.7 stops under: its chroma is a few grey
    levels, and classic-8, which judged monochrome before the exposure gain, restored it as a
    gray print (17.7 dB). The gain now comes first (26.3 dB)."""
    rgb = _reference("mcmaster-16.tif")
    out, report = restore_array(_underexpose(rgb, 0.15, 4.0))
    assert not report["steps"]["analysis"]["monochrome"]
    assert _psnr(out, rgb) > 23, report["steps"]
