"""The classic restoration pipeline on arrays: denoise -> defects -> tone -> sharpen.

Do no harm first: every step measures whether this photo needs it and does nothing when it does
not (noise below `denoise._MIN_SIGMA`: no denoising; no defect found and no mask given: no
inpainting; black points not lifted: no levels stretch; highlights present: no exposure gain). Each step kept here earned its place in the ablation on
the benchmark's validation split (docs/benchmarks.md, issue 11); steps that did not (CLAHE,
clarity, colour-mottle cleanup, midtone and "early colour" curves, grain kept on monochrome
scans, the separate colour-cast correction) were removed.

Order matters: noise goes first, because grain fakes thin bright structures and the defect
detector is far more precise on clean luminance (non-local means keeps scratches, which are
self-similar along their length, so they survive to be found); levels come after denoising (a
stretch amplifies noise), except the exposure gain of an underexposed photo, which comes first
(on RGB, before the monochrome test) so that the denoiser measures and removes the noise as it
will be seen. Monochrome photos (gray, sepia) are processed on luminance only and re-tinted (see
`color`).
"""

from __future__ import annotations

import time

import numpy as np

from rekindle.engines.classic import color, defects, denoise, noise, sharpen, tone
from rekindle.engines.classic.options import Report, RestoreOptions

MODEL = "classic-12"
_RESIDUAL_NOISE = 0.35  # noise left after matched NLM, as a fraction of the input sigma


def restore_array(
    rgb: np.ndarray, options: RestoreOptions | None = None
) -> tuple[np.ndarray, Report]:
    """Restore a photo held in memory.

    rgb: H×W×3 uint8 RGB (an H×W uint8 gray image is accepted too).
    options: which steps run and how (see `RestoreOptions`); defaults restore normally.
    Returns (restored H×W×3 uint8 RGB, 2H×2W when upscaled; report) where the report records each
    step's measured quantities (noise sigma in grey levels, defect pixel fraction, fade amount...)
    and its time in seconds. Deterministic: the same input and options give the same output.
    Raises ValueError when `options.defect_mask` does not match the photo's H×W.
    """
    opts = options or RestoreOptions()
    skip = opts.skip
    rgb = _as_rgb(rgb)
    h, w = rgb.shape[:2]
    report: Report = {"model": MODEL, "width": w, "height": h, "steps": {}, "timings_s": {}}
    steps, timings = report["steps"], report["timings_s"]
    clock = _Clock(timings)

    y, cr, cb = color.split_ycrcb(rgb)
    exposure_gain = 1.0
    if opts.tone and "exposure" not in skip:
        # First of all: the denoiser must see the noise as lifted, and whether the photo is
        # monochrome is judged at its proper exposure (a dark colour photo's chroma is small in
        # grey levels and passed for monochrome: tune split, mcmaster-16 underexposed).
        lifted, exposure_gain = tone.correct_exposure(rgb, y)
        if lifted is not rgb:
            rgb = lifted
            y, cr, cb = color.split_ycrcb(rgb)
    is_mono, neutral, cr_lut, cb_lut = color.monochrome_tint(rgb)
    sigma = noise.estimate_print_sigma(y) if is_mono else noise.estimate_noise_sigma(y)
    sigma_c = (
        0.0 if is_mono else max(noise.estimate_noise_sigma(cr), noise.estimate_noise_sigma(cb))
    )
    steps["analysis"] = {
        "monochrome": is_mono,
        "neutral_gray": neutral,
        "noise_sigma": round(sigma, 2),
        "chroma_noise_sigma": round(sigma_c, 2),
    }
    clock.lap("analysis")

    h_used = 0.0
    if opts.denoise and "denoise" not in skip:
        y, h_used = denoise.denoise_luma(y, sigma, opts.denoise_strength)
        if not is_mono and "chroma_denoise" not in skip:
            cr, cb = denoise.denoise_chroma(y, cr, cb, sigma_c, opts.denoise_strength)
    steps["denoise"] = {
        "ran": h_used > 0,
        "strength": opts.denoise_strength,
        "nlm_h": round(h_used, 2),
    }
    residual = sigma * (_RESIDUAL_NOISE if h_used > 0 else 1.0)
    clock.lap("denoise")

    detected = None
    if opts.defects and "defects" not in skip:
        chroma = None if is_mono else color.chroma_magnitude(cr, cb)
        detected = defects.detect_defects(y, residual, chroma, use_faces="faces" not in skip)
        del chroma
    given = _given_mask(opts, (h, w))
    mask = given if detected is None else detected if given is None else detected | given
    if mask is not None and mask.any():
        if is_mono:
            y = defects.inpaint(y, mask)
        else:
            y, cr, cb = color.split_ycrcb(defects.inpaint(color.merge_ycrcb(y, cr, cb), mask))
    steps["defects"] = {
        "ran": detected is not None,
        "explicit_mask": given is not None,
        "detected_fraction": _fraction(detected),
        "pixel_fraction": _fraction(mask),
    }
    del rgb, mask, detected, given
    clock.lap("defects")

    record: dict[str, object] = {}
    if opts.tone:
        if is_mono:
            if "levels" not in skip:
                y, record = tone.correct_levels(y)
        else:
            out = color.merge_ycrcb(y, cr, cb)
            if "levels" not in skip:
                out, record = tone.correct_levels(out)
            y, cr, cb = color.split_ycrcb(out)
            del out
        record["exposure_gain"] = exposure_gain
    steps["tone"] = {"ran": opts.tone, **record}
    clock.lap("tone")

    sharpened = opts.sharpen and "sharpen" not in skip
    if sharpened:
        y = sharpen.unsharp(y, residual)
    steps["sharpen"] = {"ran": sharpened, "coring_sigma": round(residual, 2)}
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


def _fraction(mask: np.ndarray | None) -> float:
    return 0.0 if mask is None else round(float(np.count_nonzero(mask)) / mask.size, 5)


def _as_rgb(img: np.ndarray) -> np.ndarray:
    if img.dtype != np.uint8:
        raise ValueError(f"expected uint8 pixels, got {img.dtype}")
    if img.ndim == 2:
        return np.ascontiguousarray(np.repeat(img[:, :, None], 3, axis=2))
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"expected H×W×3 RGB, got shape {img.shape}")
    return np.ascontiguousarray(img)


def _given_mask(opts: RestoreOptions, shape: tuple[int, int]) -> np.ndarray | None:
    if opts.defect_mask is None:
        return None
    if opts.defect_mask.shape[:2] != shape:
        raise ValueError(f"defect_mask is {opts.defect_mask.shape[:2]}, image is {shape}")
    m = opts.defect_mask if opts.defect_mask.ndim == 2 else opts.defect_mask.max(axis=2)
    return np.where(m > 0, 255, 0).astype(np.uint8)


class _Clock:
    """Records the seconds since the previous lap under each step's name."""

    def __init__(self, timings: dict[str, float]) -> None:
        self.timings = timings
        self.t = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.timings[name] = round(now - self.t, 4)
        self.t = now
