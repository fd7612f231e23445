"""Ablation of classic's steps and gates on the validation split: each switched off in turn
(sharpening, off by default, switched on), with the change in mean PSNR/SSIM over the damaged
presets and on `clean`.

Run: `uv run python -m benchmarks.quality --only ablation`.
"""

from __future__ import annotations

import numpy as np

from benchmarks.quality.score import Scores, run_scores
from rekindle.engines.classic import RestoreOptions, restore_array

VARIANTS: dict[str, RestoreOptions] = {
    "classic (all steps)": RestoreOptions(),
    "- denoise": RestoreOptions(skip=frozenset({"denoise"})),
    "- chroma denoise": RestoreOptions(skip=frozenset({"chroma_denoise"})),
    "- defects (detection + inpainting)": RestoreOptions(skip=frozenset({"defects"})),
    "- face zones (features protected, hairlines on skin)": RestoreOptions(
        skip=frozenset({"faces"})
    ),
    "- levels (fade)": RestoreOptions(skip=frozenset({"levels"})),
    "- exposure": RestoreOptions(skip=frozenset({"exposure"})),
    "+ sharpen": RestoreOptions(sharpen=True),
}


def _summary(scores: Scores) -> tuple[np.ndarray, np.ndarray]:
    damaged = [p for p in scores.rows if p != "clean"]
    mean = np.mean([scores.mean(p, "classic") for p in damaged], axis=0)
    return mean, scores.mean("clean", "classic")


def run_ablation(verbose: bool = False) -> str:
    """Markdown table: each variant's mean PSNR/SSIM (damaged presets, and clean) on the
    validation split, and its difference from the full pipeline."""
    results = {}
    for name, opts in VARIANTS.items():
        scores = run_scores(
            "validation",
            {"classic": lambda img, o=opts: restore_array(img, o)[0]},  # type: ignore[misc]
        )
        results[name] = _summary(scores)
        if verbose:
            print(name, results[name], flush=True)
    base_d, base_c = results["classic (all steps)"]
    lines = [
        "| variant | damaged presets PSNR / SSIM | Δ PSNR / Δ SSIM | clean PSNR / SSIM "
        "| Δ PSNR / Δ SSIM |",
        "|" + " --- |" * 5,
    ]
    for name, (d, c) in results.items():
        lines.append(
            f"| {name} | {d[0]:.2f} / {d[1]:.4f} | {d[0] - base_d[0]:+.2f} / {d[1] - base_d[1]:+.4f}"
            f" | {c[0]:.2f} / {c[1]:.4f} | {c[0] - base_c[0]:+.2f} / {c[1] - base_c[1]:+.4f} |"
        )
    return "\n".join(lines)
