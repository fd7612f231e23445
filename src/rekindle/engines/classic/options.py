"""Switches and inputs of the classic pipeline, and the report it returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

Report = dict[str, Any]
"""JSON-serialisable record of every step: what ran, what it measured, how long it took (s)."""


@dataclass(frozen=True)
class RestoreOptions:
    """What `restore_array` does. Every step can be switched off on its own.

    defects: find scratches, cracks, dust and specks and inpaint them.
    defect_mask: H×W bool/uint8 array (nonzero = damaged), a person's mask: inpainted together
        with what detection finds (the union). It must match the input's height and width.
    tone: restore black/white points and neutral balance of faded photos, and brighten
        underexposed photos that have no highlights at all (each only when measured).
    denoise: non-local-means denoising matched to the estimated noise sigma (film grain of
        monochrome scans measured at half scale too), and guided chroma smoothing of colour photos.
    denoise_strength: 0.0-1.0 (seed 003); 0 keeps grain, 0.5 matches the estimated noise, 1 is strong.
    sharpen: gentle noise-aware unsharp mask on luminance. Off by default: it cost PSNR on
        every split of the benchmark and on clean photos (docs/benchmarks.md, ablation).
    upscale: 2× Lanczos upscaling when the longest side is below `upscale_below` pixels.
    colorize: asked for colourisation; classic does not colourise and records so.
    skip: names of steps or gates switched off, for the ablation (benchmarks/quality): any of
        "denoise", "chroma_denoise", "defects", "faces", "levels", "exposure".
    """

    defects: bool = True
    defect_mask: np.ndarray | None = None
    tone: bool = True
    denoise: bool = True
    denoise_strength: float = 0.5
    sharpen: bool = False
    upscale: bool = False
    upscale_below: int = 1024
    colorize: bool = False
    skip: frozenset[str] = frozenset()
