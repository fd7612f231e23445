"""The classic restoration pipeline on arrays: denoise -> defects -> tone -> contrast -> sharpen.

Order matters: noise goes first, because grain fakes thin bright structures and the defect
detector is far more precise on clean luminance (non-local means keeps scratches, which are
self-similar along their length, so they survive to be found); levels are stretched after
denoising (a stretch amplifies noise); contrast and sharpening come last, on clean luminance.
Monochrome photos (gray, sepia) are processed on luminance only and re-tinted (see `color`).
"""

from __future__ import annotations

import time

import numpy as np

from rekindle.engines.classic import color, defects, denoise, noise, sharpen, tone
from rekindle.engines.classic.options import Report, RestoreOptions

MODEL = "classic-6"
_CONTRAST_PER_FADE = 0.35  # CLAHE blend weight for a fully faded photo
_CONTRAST_MONO = 0.3  # CLAHE blend weight for any monochrome photo (prints and film scans
# lose local contrast to flare and paper; colour scenes are left alone, see docs/benchmarks.md)
_GRAIN_KEPT = 0.3  # share of the input blended back after denoising a monochrome scan (grain
# is part of a film photo's look: thinned, not wiped)
_CLARITY_MONO = 0.25  # mid-scale detail boost of monochrome photos (tone.clarity)
_RESIDUAL_NOISE = 0.35  # noise left after matched NLM, as a fraction of the input sigma
# Autochrome-like colour grain (noise.estimate_colour_grain): the score ramps the strong colour
# cleanup and clarity in between these (clean, faded, aged and scratched benchmark photos score
# at most 0.46, the grainy autochromes 0.74 and 1.19); coarse_to_fine must also say "coarse"
# (iid noise of the "noisy" preset: at most 0.42, autochromes at least 0.63).
_GRAIN_START, _GRAIN_FULL = 0.55, 0.70
_COARSE_START, _COARSE_FULL = 0.5, 0.7
_CLARITY_GRAINY = 0.25  # clarity of a colour photo with autochrome grain (soft scans)
# Early colour photos (autochromes) are muted, soft and dim even without loud grain: an unfaded
# colour photo whose colourfulness (tone.early_colour_measures) is below 33.5 (full at 31; the
# 12 clean references and their scratched/noisy copies: at least 32.0), whose mid-scale detail
# is below 10 (full at 8.5; the only muted benchmark image, scratched set5-woman: 11.1) and
# whose colour grain is coarse (coarse_to_fine ramping 0.45 -> 0.6; clean and noisy images of
# colourfulness below 40: at most 0.42, autochromes at least 0.63) gets a highlight stretch, a
# midtone S-curve and clarity, less what the dark-photo lift already does (docs/benchmarks.md).
_MUTED_START, _MUTED_FULL = 33.5, 31.0
_SOFT_START, _SOFT_FULL = 10.0, 8.5
_EARLY_COARSE_START, _EARLY_COARSE_FULL = 0.45, 0.6
_CLARITY_EARLY = 0.3


def restore_array(
    rgb: np.ndarray, options: RestoreOptions | None = None
) -> tuple[np.ndarray, Report]:
    """Restore a photo held in memory.

    rgb: H×W×3 uint8 RGB (an H×W uint8 gray image is accepted too).
    options: which steps run and how (see `RestoreOptions`); defaults restore normally.
    Returns (restored H×W×3 uint8 RGB, 2H×2W when upscaled; report) where the report records each
    step's measured quantities (noise sigma in grey levels, defect pixel fraction, fade amount...)
    and its time in seconds. Deterministic: the same input and options give the same output.
    """
    opts = options or RestoreOptions()
    rgb = _as_rgb(rgb)
    h, w = rgb.shape[:2]
    report: Report = {"model": MODEL, "width": w, "height": h, "steps": {}, "timings_s": {}}
    steps, timings = report["steps"], report["timings_s"]
    clock = _Clock(timings)

    is_mono, neutral, cr_lut, cb_lut = color.monochrome_tint(rgb)
    y, cr, cb = color.split_ycrcb(rgb)
    # Film grain of monochrome scans is coarser than a pixel: measure it at half scale too.
    sigma = noise.estimate_grain_sigma(y) if is_mono else noise.estimate_noise_sigma(y)
    sigma_c = (
        0.0 if is_mono else max(noise.estimate_noise_sigma(cr), noise.estimate_noise_sigma(cb))
    )
    grain_score, coarse = (0.0, 0.0) if is_mono else noise.estimate_colour_grain(rgb)
    grainy = _ramp(grain_score, _GRAIN_START, _GRAIN_FULL) * _ramp(
        coarse, _COARSE_START, _COARSE_FULL
    )
    dark, l_med, l_p99 = (0.0, 0.0, 0.0) if is_mono else tone.dark_amount(y)
    colourful, detail = (0.0, 0.0) if is_mono else tone.early_colour_measures(rgb)
    early = 0.0
    if not is_mono and tone.fade_amount(tone.channel_levels(rgb)[0]) <= 0:
        early = (
            _ramp(colourful, _MUTED_START, _MUTED_FULL)
            * _ramp(detail, _SOFT_START, _SOFT_FULL)
            * _ramp(coarse, _EARLY_COARSE_START, _EARLY_COARSE_FULL)
            * (1.0 - dark)  # dark photos get the midtone lift instead
        )
    if grainy > 0:
        # Autochrome grain clumps over 2-3 px in luminance too: measure it at half scale as well.
        sigma += grainy * max(0.0, noise.estimate_grain_sigma(y) - sigma)
    steps["analysis"] = {
        "monochrome": is_mono,
        "neutral_gray": neutral,
        "noise_sigma": round(sigma, 2),
        "chroma_noise_sigma": round(sigma_c, 2),
        "colour_grain": round(grain_score, 3),
        "grain_coarse_to_fine": round(coarse, 3),
        "grainy": round(grainy, 3),
        "median_lightness": round(l_med, 1),
        "p99_lightness": round(l_p99, 1),
        "dark": round(dark, 3),
        "colourfulness": round(colourful, 1),
        "detail": round(detail, 2),
        "early_colour": round(early, 3),
    }
    clock.lap("analysis")

    h_used = 0.0
    if opts.denoise:
        y, h_used = denoise.denoise_luma(
            y, sigma, opts.denoise_strength, keep=_GRAIN_KEPT if is_mono else 0.0
        )
        if not is_mono:
            cr, cb = denoise.denoise_chroma(y, cr, cb, sigma_c, opts.denoise_strength)
            cr, cb = denoise.smooth_chroma_grain(y, cr, cb, opts.denoise_strength)
            mottle = grainy * min(1.0, denoise.strength_factor(opts.denoise_strength))
            cr, cb = denoise.remove_colour_mottle(y, cr, cb, mottle)
    steps["denoise"] = {
        "ran": opts.denoise,
        "strength": opts.denoise_strength,
        "nlm_h": round(h_used, 2),
        "grain_kept": _GRAIN_KEPT if opts.denoise and is_mono and h_used > 0 else 0.0,
        "chroma_grain_smoothed": bool(opts.denoise and not is_mono and opts.denoise_strength > 0),
        "colour_mottle_removed": round(
            grainy * min(1.0, denoise.strength_factor(opts.denoise_strength))
            if opts.denoise
            else 0.0,
            3,
        ),
    }
    residual = sigma * (_RESIDUAL_NOISE if h_used > 0 else 1.0)
    clock.lap("denoise")

    chroma = None if is_mono else color.chroma_magnitude(cr, cb)
    mask = _defect_mask(opts, y, residual, chroma, (h, w))
    del chroma
    if mask is not None and mask.any():
        if is_mono:
            y = defects.inpaint(y, mask)
        else:
            y, cr, cb = color.split_ycrcb(defects.inpaint(color.merge_ycrcb(y, cr, cb), mask))
    steps["defects"] = {
        "ran": mask is not None,
        "explicit_mask": opts.defect_mask is not None,
        "pixel_fraction": round(float(np.count_nonzero(mask)) / mask.size, 5)
        if mask is not None
        else 0.0,
    }
    del rgb, mask
    clock.lap("defects")

    fade = 0.0
    if opts.tone:
        if is_mono:
            y, record = tone.correct_levels(y)
        else:
            out, record = tone.correct_levels(color.merge_ycrcb(y, cr, cb))
            out, record["cast"] = tone.correct_cast(out)
            y, cr, cb = color.split_ycrcb(out)
            del out
            lifted, gamma = tone.lift_midtones(y, dark)
            if gamma < 1.0:
                cr, cb = tone.lift_chroma(y, lifted, cr, cb)
            y = lifted
            del lifted
            record["midtone_gamma"] = round(gamma, 3)
            toned, record["early_colour"] = tone.early_colour_tone(y, early)
            if early > 0:
                cr, cb = tone.lift_chroma(y, toned, cr, cb)
            y = toned
            del toned
        fade = float(record["fade_amount"])  # type: ignore[arg-type]
        steps["tone"] = {"ran": True, **record}
    else:
        steps["tone"] = {"ran": False}
    clock.lap("tone")

    contrast = _CONTRAST_PER_FADE * fade
    if is_mono:
        contrast = max(contrast, _CONTRAST_MONO)
    contrast = contrast if opts.local_contrast else 0.0
    y = tone.local_contrast(y, contrast)
    clarity = _CLARITY_MONO if is_mono else max(_CLARITY_GRAINY * grainy, _CLARITY_EARLY * early)
    clarity = clarity if opts.local_contrast else 0.0
    y = tone.clarity(y, clarity)
    steps["local_contrast"] = {
        "ran": contrast > 0 or clarity > 0,
        "blend": round(contrast, 3),
        "clarity": round(clarity, 3),
    }
    clock.lap("local_contrast")

    if opts.sharpen:
        y = sharpen.unsharp(y, residual)
    steps["sharpen"] = {"ran": opts.sharpen, "coring_sigma": round(residual, 2)}
    clock.lap("sharpen")

    out = color.apply_tint(y, cr_lut, cb_lut, neutral) if is_mono else color.merge_ycrcb(y, cr, cb)
    del y, cr, cb
    upscaled = opts.upscale and max(h, w) < opts.upscale_below
    if upscaled:
        out = sharpen.upscale2x(out)
    steps["upscale"] = {"ran": upscaled, "factor": 2 if upscaled else 1}
    steps["colorize"] = {"requested": opts.colorize, "ran": False}
    clock.lap("compose")
    timings["total"] = round(sum(timings.values()), 4)
    return out, report


def _ramp(x: float, start: float, full: float) -> float:
    """0 at `start`, 1 at `full`, linear in between (clipped)."""
    return float(np.clip((x - start) / (full - start), 0.0, 1.0))


def _as_rgb(img: np.ndarray) -> np.ndarray:
    if img.dtype != np.uint8:
        raise ValueError(f"expected uint8 pixels, got {img.dtype}")
    if img.ndim == 2:
        return np.ascontiguousarray(np.repeat(img[:, :, None], 3, axis=2))
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"expected H×W×3 RGB, got shape {img.shape}")
    return np.ascontiguousarray(img)


def _defect_mask(
    opts: RestoreOptions,
    y: np.ndarray,
    sigma: float,
    chroma: np.ndarray | None,
    shape: tuple[int, int],
) -> np.ndarray | None:
    if opts.defect_mask is not None:
        if opts.defect_mask.shape[:2] != shape:
            raise ValueError(f"defect_mask is {opts.defect_mask.shape[:2]}, image is {shape}")
        return np.where(opts.defect_mask > 0, 255, 0).astype(np.uint8)
    if not opts.defects:
        return None
    return defects.detect_defects(y, sigma, chroma)


class _Clock:
    """Records the seconds since the previous lap under each step's name."""

    def __init__(self, timings: dict[str, float]) -> None:
        self.timings = timings
        self.t = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.timings[name] = round(now - self.t, 4)
        self.t = now
