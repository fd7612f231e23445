"""Where the shared photos live and how to read them."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rekindle.engines.classic.imageio import decode

REPO_ROOT = Path(__file__).resolve().parents[2]
PHOTOS = REPO_ROOT.parent / "shared" / "photos"
CLEAN = PHOTOS / "clean-reference"
REAL_OLD = PHOTOS / "real-old"


def load_rgb(path: Path) -> np.ndarray:
    """Read any photo as H×W×3 uint8 RGB (the engine's own decoder)."""
    return decode(path.read_bytes())[0]


def listing(folder: Path) -> list[Path]:
    """Sorted photo files of `folder`; raises SystemExit with a reason when it is missing."""
    if not folder.is_dir():
        raise SystemExit(f"{folder} not found: the shared photos must sit beside the repository")
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in {".png", ".jpg", ".tif"})
