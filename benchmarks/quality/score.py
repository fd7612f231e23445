"""PSNR/SSIM of damaged input, naive chain and classic, per preset and overall."""

from __future__ import annotations

import zlib

import numpy as np
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from benchmarks.quality.degrade import PRESETS
from benchmarks.quality.naive import naive_restore
from benchmarks.quality.photos import CLEAN, listing, load_rgb
from rekindle.engines.classic import RestoreOptions, restore_array

SEED = 20240604
METHODS = ("damaged", "naive", "classic")


def metrics(ref: np.ndarray, img: np.ndarray) -> tuple[float, float]:
    """(PSNR dB, SSIM) of H×W×3 uint8 `img` against `ref` (skimage.metrics, data range 255)."""
    psnr = peak_signal_noise_ratio(ref, img, data_range=255)
    ssim = structural_similarity(ref, img, channel_axis=2, data_range=255)
    return float(psnr), float(ssim)


def run_scores(
    options: RestoreOptions | None = None, verbose: bool = False
) -> dict[str, dict[str, np.ndarray]]:
    """scores[preset][method] = array (n_photos × 2) of (PSNR, SSIM)."""
    photos = listing(CLEAN)
    scores: dict[str, dict[str, list[tuple[float, float]]]] = {}
    for p_idx, (preset, fn) in enumerate(PRESETS.items()):
        per = scores.setdefault(preset, {m: [] for m in METHODS})
        for path in photos:
            ref = load_rgb(path)
            # One generator per (seed, preset, photo): adding a photo never changes the others.
            rng = np.random.default_rng([SEED, p_idx, zlib.crc32(path.name.encode())])
            damaged = fn(ref, rng)
            outs = {
                "damaged": damaged,
                "naive": naive_restore(damaged),
                "classic": restore_array(damaged, options)[0],
            }
            for m, out in outs.items():
                per[m].append(metrics(ref, out))
            if verbose:
                row = "  ".join(f"{m} {per[m][-1][0]:6.2f}/{per[m][-1][1]:.3f}" for m in METHODS)
                print(f"{preset:10s} {path.name:18s} {row}", flush=True)
    return {p: {m: np.array(v) for m, v in d.items()} for p, d in scores.items()}


def table(scores: dict[str, dict[str, np.ndarray]]) -> str:
    """Markdown table of mean PSNR (dB) and SSIM per preset and overall (mean of presets)."""
    head = "| preset | damaged PSNR | naive PSNR | classic PSNR | damaged SSIM | naive SSIM | classic SSIM |"
    lines = [head, "|" + " --- |" * 7]
    means = {p: {m: v.mean(axis=0) for m, v in d.items()} for p, d in scores.items()}
    rows = [
        *means.items(),
        ("**overall**", {m: np.mean([means[p][m] for p in means], axis=0) for m in METHODS}),
    ]
    for name, mm in rows:
        psnr = " | ".join(f"{mm[m][0]:.2f}" for m in METHODS)
        ssim = " | ".join(f"{mm[m][1]:.4f}" for m in METHODS)
        lines.append(f"| {name} | {psnr} | {ssim} |")
    return "\n".join(lines)


def check_targets(scores: dict[str, dict[str, np.ndarray]]) -> list[str]:
    """The issue's quality targets that fail (empty when all are met)."""
    fails = []
    for p, d in scores.items():
        c = d["classic"].mean(axis=0)
        for other in ("damaged", "naive"):
            o = d[other].mean(axis=0)
            if c[0] <= o[0]:
                fails.append(f"{p}: classic PSNR {c[0]:.2f} <= {other} {o[0]:.2f}")
            if c[1] <= o[1]:
                fails.append(f"{p}: classic SSIM {c[1]:.4f} <= {other} {o[1]:.4f}")
    gain = np.mean([d["classic"][:, 0].mean() - d["damaged"][:, 0].mean() for d in scores.values()])
    if gain < 4.5:
        fails.append(f"overall PSNR gain {gain:.2f} dB < 4.5 dB")
    return fails
