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
    defect_mask: H×W bool/uint8 array (nonzero = defect) used instead of detection; it must match
        the input's height and width.
    tone: restore black/white points and neutral balance of faded photos, and remove part of a
        uniform global colour cast (autochromes, faded dyes) of colour photos (only when needed),
        and lift the midtones of dark, low-key colour photos with no highlights.
    denoise: non-local-means denoising matched to the estimated noise sigma (film grain of
        monochrome scans measured at half scale too, and partly kept), plus a gentle smoothing of
        colour grain coarser than a pixel on colour photos; a strong colour-mottle cleanup on colour
        photos measured to carry autochrome-like grain (noise.estimate_colour_grain).
    denoise_strength: 0.0-1.0 (seed 003); 0 keeps grain, 0.5 matches the estimated noise, 1 is strong.
    local_contrast: gentle CLAHE on luminance, blended in for faded and monochrome photos, and a
        halo-free mid-scale detail boost ("clarity") on monochrome photos and grainy colour ones.
    sharpen: gentle noise-aware unsharp mask on luminance.
    upscale: 2× Lanczos upscaling when the longest side is below `upscale_below` pixels.
    colorize: asked for colourisation; classic does not colourise and records so.
    """

    defects: bool = True
    defect_mask: np.ndarray | None = None
    tone: bool = True
    denoise: bool = True
    denoise_strength: float = 0.5
    local_contrast: bool = True
    sharpen: bool = True
    upscale: bool = False
    upscale_below: int = 1024
    colorize: bool = False
