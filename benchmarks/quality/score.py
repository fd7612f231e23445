"""PSNR/SSIM of damaged input, naive chain and classic, per split and preset, with the issue's
targets (docs/benchmarks.md, issue 11)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from benchmarks.quality.cases import Case, cases
from benchmarks.quality.degrade import WAN_FAMILY
from benchmarks.quality.naive import naive_restore
from rekindle.engines.classic import restore_array

METHODS = ("damaged", "naive", "classic")
CLEAN_MEAN_PSNR, CLEAN_SSIM, CLEAN_MIN_PSNR = 36.0, 0.97, 32.0
MIN_GAIN_DB = 4.5
PSNR_CAP = 60.0  # dB: an unchanged photo scores this, not infinity, so means stay finite

Restorer = Callable[[np.ndarray], np.ndarray]


def metrics(ref: np.ndarray, img: np.ndarray, mono: bool = False) -> tuple[float, float]:
    """(PSNR dB, SSIM) of H×W×3 uint8 `img` against `ref` (skimage.metrics, data range 255).

    mono: compare BT.601 luminance only, so that keeping or removing a toning is not judged.
    PSNR is capped at `PSNR_CAP` (identical images).
    """
    if mono:
        ref, img = (cv2.cvtColor(x, cv2.COLOR_RGB2GRAY) for x in (ref, img))
        ssim = structural_similarity(ref, img, data_range=255)
    else:
        ssim = structural_similarity(ref, img, channel_axis=2, data_range=255)
    if np.array_equal(ref, img):
        return PSNR_CAP, float(ssim)
    psnr = min(PSNR_CAP, float(peak_signal_noise_ratio(ref, img, data_range=255)))
    return psnr, float(ssim)


@dataclass
class Scores:
    """rows[preset][method] = list of (PSNR, SSIM); names[preset] = photo per row."""

    rows: dict[str, dict[str, list[tuple[float, float]]]] = field(default_factory=dict)
    names: dict[str, list[str]] = field(default_factory=dict)

    def add(self, case: Case, results: dict[str, tuple[float, float]]) -> None:
        per = self.rows.setdefault(case.preset, {})
        for m, v in results.items():
            per.setdefault(m, []).append(v)
        self.names.setdefault(case.preset, []).append(case.name)

    def mean(self, preset: str, method: str) -> np.ndarray:
        return np.array(self.rows[preset][method]).mean(axis=0)

    def worst(self, preset: str, method: str) -> tuple[float, str]:
        v = np.array(self.rows[preset][method])[:, 0]
        return float(v.min()), self.names[preset][int(v.argmin())]


def run_scores(
    split: str,
    restorers: dict[str, Restorer] | None = None,
    verbose: bool = False,
    presets: tuple[str, ...] | None = None,
) -> Scores:
    """Score every case of `split` (see benchmarks.quality.cases) for the damaged input and each
    restorer (default: the naive chain and classic with default options)."""
    restorers = restorers or {
        "naive": naive_restore,
        "classic": lambda img: restore_array(img)[0],
    }
    scores = Scores()
    for case in cases(split, presets):
        results = {"damaged": metrics(case.ref, case.damaged, case.mono)}
        for m, fn in restorers.items():
            results[m] = metrics(case.ref, fn(case.damaged), case.mono)
        scores.add(case, results)
        if verbose:
            row = "  ".join(f"{m} {v[0]:6.2f}/{v[1]:.3f}" for m, v in results.items())
            print(f"{split:10s} {case.preset:13s} {case.name:26s} {row}", flush=True)
    return scores


def table(scores: Scores) -> str:
    """Markdown table: mean PSNR (dB) / SSIM per preset for each method, the worst single photo
    of classic, and the mean over damaged presets."""
    head = (
        "| preset | n | damaged PSNR / SSIM | naive PSNR / SSIM | classic PSNR / SSIM "
        "| classic worst photo (PSNR) |"
    )
    lines = [head, "|" + " --- |" * 6]
    for p in scores.rows:
        cells = " | ".join("{:.2f} / {:.4f}".format(*scores.mean(p, m)) for m in METHODS)
        worst, name = scores.worst(p, "classic")
        family = " (Wan)" if p in WAN_FAMILY else ""
        lines.append(f"| {p}{family} | {len(scores.names[p])} | {cells} | {worst:.2f} {name} |")
    damaged = [p for p in scores.rows if p != "clean"]
    if not damaged:
        return "\n".join(lines)
    cells = " | ".join(
        "{:.2f} / {:.4f}".format(*np.mean([scores.mean(p, m) for p in damaged], axis=0))
        for m in METHODS
    )
    lines.append(f"| **damaged presets, mean** | | {cells} | |")
    return "\n".join(lines)


def gain_db(scores: Scores) -> float:
    """Mean over damaged presets of classic's mean PSNR gain over the damaged input (dB)."""
    damaged = [p for p in scores.rows if p != "clean"]
    if not damaged:
        return 0.0
    return float(
        np.mean([scores.mean(p, "classic")[0] - scores.mean(p, "damaged")[0] for p in damaged])
    )


def check_targets(scores: Scores) -> list[str]:
    """The issue's quality targets (judged on the validation split) that fail; empty when met."""
    fails = []
    for p in scores.rows:
        c = scores.mean(p, "classic")
        if p == "clean":
            worst, name = scores.worst(p, "classic")
            if c[0] < CLEAN_MEAN_PSNR:
                fails.append(f"clean: mean PSNR {c[0]:.2f} < {CLEAN_MEAN_PSNR}")
            if c[1] < CLEAN_SSIM:
                fails.append(f"clean: mean SSIM {c[1]:.4f} < {CLEAN_SSIM}")
            if worst < CLEAN_MIN_PSNR:
                fails.append(f"clean: {name} at {worst:.2f} dB < {CLEAN_MIN_PSNR}")
            continue
        for other in ("damaged", "naive"):
            o = scores.mean(p, other)
            if c[0] <= o[0]:
                fails.append(f"{p}: classic PSNR {c[0]:.2f} <= {other} {o[0]:.2f}")
            if c[1] <= o[1]:
                fails.append(f"{p}: classic SSIM {c[1]:.4f} <= {other} {o[1]:.4f}")
    gain = gain_db(scores)
    if gain < MIN_GAIN_DB:
        fails.append(f"mean PSNR gain {gain:.2f} dB < {MIN_GAIN_DB} dB")
    return fails
