"""Oracle-mask inpainting: how much each OpenCV method recovers when it is told exactly where
the damage is, and what it costs per megapixel.

The damage of the `scratched` and `wan-scratched` presets is re-drawn from the same seeds to
get its true mask (scratch alpha > 0.05, grown by 1 px). Methods: cv2.inpaint Telea (Telea,
J. Graphics Tools 2004) and Navier-Stokes (Bertalmio et al., CVPR 2001), cv2.xphoto.inpaint
FSR fast and best (Seiler & Kaup, frequency selective reconstruction) and shift-map (He & Sun,
ECCV 2012). Quality on the validation split (colour references at their bounded size); time
on a 0.5-MP enlargement (FSR best and shift-map are too slow for more on 2 cores).

Run: `uv run python -m benchmarks.quality --only inpaint`.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable

import cv2
import numpy as np

from benchmarks.quality.cases import SEED, SPLITS, references
from benchmarks.quality.degrade import PRESETS, scratch_mask
from benchmarks.quality.score import metrics


def _cv(flag: int) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    return lambda img, mask: cv2.inpaint(img, mask, 3, flag)


def _xphoto(flag: int) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    def run(img: np.ndarray, mask: np.ndarray) -> np.ndarray:
        out = np.zeros_like(img)
        # xphoto marks the pixels to KEEP with non-zero values.
        cv2.xphoto.inpaint(img, cv2.bitwise_not(mask), out, flag)
        return out

    return run


METHODS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "Telea": _cv(cv2.INPAINT_TELEA),
    "Navier-Stokes": _cv(cv2.INPAINT_NS),
    "xphoto FSR fast": _xphoto(cv2.xphoto.INPAINT_FSR_FAST),
    "xphoto FSR best": _xphoto(cv2.xphoto.INPAINT_FSR_BEST),
    "xphoto shift-map": _xphoto(cv2.xphoto.INPAINT_SHIFTMAP),
}


def _oracle_cases() -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(reference, damaged, oracle mask) for the scratched preset of every validation colour
    reference."""
    out = []
    preset = "scratched"
    for file in SPLITS["validation"]:
        for variant, ref in references(file):
            if variant != "colour":
                continue
            key = [SEED, zlib.crc32(preset.encode()), zlib.crc32(f"{file}:{variant}".encode())]
            damaged = PRESETS[preset](ref, np.random.default_rng(key))
            alpha, _ = scratch_mask(ref.shape[:2], np.random.default_rng(key))
            mask = cv2.dilate((alpha > 0.05).astype(np.uint8) * 255, np.ones((3, 3), np.uint8))
            out.append((ref, damaged, mask))
    return out


def run_comparison() -> str:
    """Markdown table: mean PSNR/SSIM with the oracle mask, and seconds per megapixel."""
    cases = _oracle_cases()
    base = np.mean([metrics(r, d) for r, d, _ in cases], axis=0)
    _, big_dmg, big_mask = cases[0]
    big = cv2.resize(big_dmg, (866, 577), interpolation=cv2.INTER_CUBIC)  # 0.5 MP
    big_mask = cv2.resize(big_mask, (866, 577), interpolation=cv2.INTER_NEAREST)
    lines = [
        "| method | PSNR / SSIM (oracle mask) | gain over damaged (dB) | s/MP (0.5-MP image) |",
        "| --- | --- | --- | --- |",
        f"| (damaged input) | {base[0]:.2f} / {base[1]:.4f} | 0 | |",
    ]
    for name, fn in METHODS.items():
        q = np.mean([metrics(r, fn(d, m)) for r, d, m in cases], axis=0)
        t = time.perf_counter()
        fn(big, big_mask)
        spm = (time.perf_counter() - t) / (big.shape[0] * big.shape[1] / 1e6)
        lines.append(f"| {name} | {q[0]:.2f} / {q[1]:.4f} | {q[0] - base[0]:+.2f} | {spm:.2f} |")
    return "\n".join(lines)
