"""Every real photo in ../shared/photos passes validation, preprocessing and thumbnails."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rekindle.imaging import inspect_image, make_thumbnail, preprocess

REPO_ROOT = Path(__file__).resolve().parents[2]
PHOTOS_DIR = REPO_ROOT.parent / "shared" / "photos"
PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp", ".heic", ".heif"}
PHOTOS = (
    sorted(p for p in PHOTOS_DIR.rglob("*") if p.suffix.lower() in PHOTO_SUFFIXES)
    if PHOTOS_DIR.is_dir()
    else []
)

pytestmark = [
    pytest.mark.photos,
    pytest.mark.skipif(
        not PHOTOS, reason=f"no shared test photos at {PHOTOS_DIR} (see shared/photos/MANIFEST.md)"
    ),
]


@pytest.mark.parametrize("path", PHOTOS, ids=[p.name for p in PHOTOS])
def test_real_photo(images, path):
    info = inspect_image(path, max_pixels=60_000_000)
    assert info.format in {"JPEG", "PNG", "TIFF"}

    result = preprocess(path.read_bytes())
    out = images.decode(result.image_bytes)
    assert (out.format, out.mode) == ("JPEG", "RGB")
    assert result.original_dimensions == (info.width, info.height)  # none of them is rotated
    assert result.submitted_dimensions == out.size == result.original_dimensions
    assert result.record()["original_format"] == info.format

    source = images.decode(path.read_bytes()).convert("RGB")
    if "icc_profile" not in images.decode(path.read_bytes()).info:
        # No colour management involved: the output is the photo, give or take JPEG q95 with
        # 4:2:0 chroma (about 30 dB on the saturated McMaster pictures, 40+ on the rest).
        assert images.psnr(out, source) > 28
    thumb = images.decode(make_thumbnail(path.read_bytes()))
    assert max(thumb.size) == min(400, max(out.size))


@pytest.mark.parametrize(
    "path", [p for p in PHOTOS if p.name.startswith("bw-")], ids=lambda p: p.name
)
def test_black_and_white_photos_stay_near_gray(images, path):
    # The bw-*.jpg files are R = G = B give or take 9 levels of tint (MANIFEST.md); the ICC
    # conversion of bw-migrant-mother-1936.jpg must not tint it either.
    out = np.asarray(images.decode(preprocess(path.read_bytes()).image_bytes)).astype(int)
    spread = (out.max(axis=-1) - out.min(axis=-1)).mean()
    assert spread < 10
