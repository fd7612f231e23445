"""find_subject: where the camera goes."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from rekindle.engines.animation import subject as subject_module
from rekindle.engines.animation.subject import find_subject

PHOTOS = [
    "bw-migrant-mother-1936.jpg",
    "scratch-woman-cigarette.png",
    "autochrome-girl-wreath.png",
    "faded-boy-glasses.png",
]


def textured(width: int, height: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = rng.normal(120, 4, (height, width)).clip(0, 255).astype(np.uint8)
    return np.repeat(base[:, :, None], 3, axis=2)


def test_finds_an_off_centre_object() -> None:
    picture = textured(640, 480)
    # A high-contrast figure in the upper-right third.
    picture[80:200, 400:480] = 20
    picture[110:150, 420:460] = 240
    found = find_subject(picture)
    assert found.detector in ("face-haar", "saliency-spectral-residual")
    cx, cy = found.center
    assert 360 <= cx <= 520 and 60 <= cy <= 240, found


def test_flat_picture_falls_back_to_the_centre() -> None:
    found = find_subject(np.full((300, 400, 3), 128, np.uint8))
    assert found.detector == "centre"
    assert found.box == (100.0, 75.0, 200.0, 150.0)


def test_box_is_in_input_pixels_for_large_pictures() -> None:
    small = textured(400, 300)
    small[20:60, 300:360] = 250
    large = np.repeat(np.repeat(small, 5, axis=0), 5, axis=1)  # 2000×1500, analysed at 320 px
    a, b = find_subject(small), find_subject(large)
    assert a.detector == b.detector
    assert np.allclose(np.array(b.box) / 5, a.box, atol=8)


def test_without_a_bundled_face_cascade_saliency_is_used(monkeypatch) -> None:
    monkeypatch.setattr(subject_module, "FACE_CASCADES", ("does-not-exist.xml",))
    picture = textured(320, 240)
    picture[100:140, 140:180] = 250
    assert find_subject(picture).detector == "saliency-spectral-residual"


@pytest.mark.photos
@pytest.mark.parametrize("name", PHOTOS)
def test_portraits_subject_is_a_central_part_of_the_picture(name: str, real_photo) -> None:
    rgb = np.asarray(Image.open(io.BytesIO(real_photo(name))).convert("RGB"))
    height, width = rgb.shape[:2]
    found = find_subject(rgb)
    assert found.detector != "centre"
    x, y, w, h = found.box
    assert x >= 0 and y >= 0 and x + w <= width + 1e-6 and y + h <= height + 1e-6
    assert w * h < 0.6 * width * height, "the subject is a part of the picture, not all of it"
    cx, _ = found.center
    # In these portraits the sitter is in the middle half of the frame horizontally.
    assert width / 4 <= cx <= 3 * width / 4
    assert find_subject(rgb) == found, "deterministic"
