"""The generalization benchmark's references, its tune/validation split and its cases.

23 clean references (`../shared/photos/clean-reference`): 12 colour and 11 monochrome. Each
colour photo is used twice (as it is, and as gray), each monochrome one twice (gray, and toned
like a sepia print): 46 references. Every photo is first shrunk (area average) so that its long
side is at most `MAX_SIDE` px, to keep a full run within minutes on 2 shared cores.

The split is by file, fixed here and written down in docs/benchmarks.md: thresholds may be
chosen on TUNE only, the issue's targets are judged on VALIDATION. A file's derived versions
(gray, toned) stay on its side. EXTERNAL (`--split external`) is reported only: photos from
outside the shared set, for the engine's behaviour on pictures it was never measured on.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache

import cv2
import numpy as np

from benchmarks.quality.degrade import COLOUR_ONLY, MONO_ONLY, PRESETS, sepia
from benchmarks.quality.photos import CLEAN, load_rgb

SEED = 20261206
MAX_SIDE = 384

TUNE = (
    "mcmaster-01.tif",
    "mcmaster-05.tif",
    "mcmaster-09.tif",
    "mcmaster-16.tif",
    "set5-baby.png",
    "set5-head.png",
    "classic5-baboon.png",
    "set12-barbara.png",
    "set12-couple.png",
    "set12-man.png",
    "set12-parrot.png",
    "set12-starfish.png",
)
VALIDATION = (
    "mcmaster-03.tif",
    "mcmaster-06.tif",
    "mcmaster-13.tif",
    "mcmaster-18.tif",
    "set5-bird.png",
    "set5-woman.png",
    "set12-airplane.png",
    "set12-boat.png",
    "set12-house.png",
    "set12-monarch.png",
    "set12-peppers.png",
)
# A third set, never used to choose anything and not judged by the targets: scikit-image's
# sample photos (`skimage.data`, shipped in its wheel), other cameras, scenes and tonal ranges
# than the shared references (a flat-lit clock, a brick wall, a page of text, a star field).
EXTERNAL = tuple(
    f"skimage:{name}"
    for name in (
        "astronaut",
        "camera",
        "coffee",
        "chelsea",
        "rocket",
        "coins",
        "moon",
        "page",
        "text",
        "clock",
        "brick",
        "gravel",
        "hubble_deep_field",
    )
)
SPLITS = {"tune": TUNE, "validation": VALIDATION, "external": EXTERNAL}


@dataclass(frozen=True)
class Case:
    """One damaged photo: `ref` and `damaged` are H×W×3 uint8 RGB; `mono` means score on
    luminance only (the reference is gray or toned, or the preset makes a monochrome print)."""

    split: str
    name: str  # file name + ":" + variant (colour, gray, mono, toned)
    preset: str
    ref: np.ndarray
    damaged: np.ndarray
    mono: bool


@cache
def references(file: str) -> tuple[tuple[str, np.ndarray], ...]:
    """(variant, H×W×3 uint8 RGB) pairs of one reference file (or `skimage:NAME`, a sample photo
    of `skimage.data`), shrunk to `MAX_SIDE`."""
    if file.startswith("skimage:"):
        rgb = _skimage_photo(file.removeprefix("skimage:"))
    else:
        rgb = load_rgb(CLEAN / file)
    h, w = rgb.shape[:2]
    s = MAX_SIDE / max(h, w)
    if s < 1:
        rgb = cv2.resize(rgb, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
    g = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    gray = np.dstack([g, g, g])
    if np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 1], rgb[..., 2]):
        return (("mono", gray), ("toned", sepia(g)))
    return (("colour", rgb), ("gray", gray))


def _skimage_photo(name: str) -> np.ndarray:
    """A sample photo of `skimage.data` as H×W×3 uint8 RGB (alpha dropped, gray repeated)."""
    import skimage.data

    img = np.asarray(getattr(skimage.data, name)())
    return np.ascontiguousarray(np.dstack([img] * 3) if img.ndim == 2 else img[..., :3])


def cases(split: str, presets: tuple[str, ...] | None = None) -> Iterator[Case]:
    """Every (reference, preset) case of `split`, damaged with a generator seeded by
    (SEED, preset, file, variant): adding a photo or preset never changes the others."""
    for file in SPLITS[split]:
        for variant, ref in references(file):
            colour = variant == "colour"
            for preset, fn in PRESETS.items():
                if presets is not None and preset not in presets:
                    continue
                if (preset in COLOUR_ONLY and not colour) or (preset in MONO_ONLY and colour):
                    continue
                key = [SEED, zlib.crc32(preset.encode()), zlib.crc32(f"{file}:{variant}".encode())]
                damaged = fn(ref, np.random.default_rng(key))
                yield Case(
                    split,
                    f"{file}:{variant}",
                    preset,
                    ref,
                    damaged,
                    not colour or preset in MONO_ONLY,
                )
