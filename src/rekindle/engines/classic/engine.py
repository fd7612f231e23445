"""`classic`: the local CPU restoration engine (no model, no network)."""

from __future__ import annotations

import time
from typing import ClassVar

from rekindle.config import Settings
from rekindle.engines.base import EngineResult, RestoreRequest
from rekindle.engines.classic.imageio import decode, decode_mask, encode_jpeg
from rekindle.engines.classic.options import RestoreOptions
from rekindle.engines.classic.pipeline import MODEL, restore_array


class ClassicEngine:
    """Restores with `restore_array`: defects, denoise, fade/cast, local contrast, sharpening."""

    name: ClassVar[str] = "classic"

    @classmethod
    def from_settings(cls, settings: Settings) -> ClassicEngine:
        return cls()

    @classmethod
    def is_configured(cls, settings: Settings) -> bool:
        return True

    def supported_options(self) -> frozenset[str]:
        """Denoise strength and a damage mask: classic does not colourise, and takes no prompt
        or seed."""
        return frozenset({"denoise", "mask"})

    def restore(self, request: RestoreRequest) -> EngineResult:
        """Restore `request.image` (any Pillow-readable bytes) to a JPEG.

        Honours `request.denoise` (0..1) and `request.mask` (inpainted together with the damage
        classic detects). `request.colorize` is recorded but not performed.
        Raises EngineError("invalid_image") when the bytes cannot be decoded, and
        EngineError("invalid_mask") when the mask cannot be decoded or is not the image's size.
        """
        t0 = time.perf_counter()
        rgb, mode = decode(request.image)
        mask = None if request.mask is None else decode_mask(request.mask, rgb.shape[:2])
        t_decode = time.perf_counter() - t0
        options = RestoreOptions(
            denoise_strength=request.denoise, colorize=request.colorize, defect_mask=mask
        )
        out, report = restore_array(rgb, options)
        t1 = time.perf_counter()
        data = encode_jpeg(out)
        report["timings_s"]["decode"] = round(t_decode, 4)
        report["timings_s"]["encode"] = round(time.perf_counter() - t1, 4)
        report["input_mode"] = mode
        report["colorized"] = False
        if request.colorize:
            report["colorize_note"] = "classic does not colourise; the photo keeps its tones"
        return EngineResult(data=data, content_type="image/jpeg", model=MODEL, params=report)
