"""`rekindle restore --mask FILE`: a person's damage mask, any size, scaled to the photo."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from tests.cli.test_cli import rekindle


def _photo_with_dark_scratch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """A smooth 240×320 scene with a dark scratch classic does not detect on its own."""
    yy, xx = np.mgrid[0:240, 0:320].astype(np.float32)
    scene = np.dstack([70 + 120 * xx / 320, 60 + 110 * yy / 240, 120 + 0 * xx])
    scene = np.clip(scene, 0, 255).round().astype(np.uint8)
    scene[5:20, 5:40] = 10  # deep shadows and highlights: a well-exposed photo
    scene[220:235, 280:315] = 245
    damaged = scene.copy()
    damaged[118:121, 40:280] = 15
    Image.fromarray(damaged).save(path)
    return scene, (slice(118, 121), slice(40, 280))


def _error(path: Path, scene: np.ndarray, where: tuple[slice, slice]) -> float:
    out = np.asarray(Image.open(path).convert("RGB"))
    return float(np.abs(out[where].astype(int) - scene[where].astype(int)).mean())


def test_mask_of_another_size_is_scaled_and_inpainted(tmp_path: Path) -> None:
    photo = tmp_path / "photo.png"
    scene, scratch = _photo_with_dark_scratch(photo)
    mask = np.zeros((480, 640), np.uint8)  # twice the photo's size
    cv2.line(mask, (80, 239), (560, 239), 255, 8)
    Image.fromarray(mask).save(tmp_path / "mask.png")
    env = {"REKINDLE_DATA_DIR": str(tmp_path / "data")}

    plain = rekindle("restore", str(photo), "-o", str(tmp_path / "plain.jpg"), env=env)
    masked = rekindle(
        "restore",
        str(photo),
        "-o",
        str(tmp_path / "masked.jpg"),
        "--mask",
        str(tmp_path / "mask.png"),
        env=env,
    )
    assert plain.returncode == 0 and masked.returncode == 0, masked.stderr
    assert _error(tmp_path / "plain.jpg", scene, scratch) > 60  # not detected on its own
    assert _error(tmp_path / "masked.jpg", scene, scratch) < 15  # repaired with the mask


def test_bad_masks_fail_with_one_clear_line(tmp_path: Path) -> None:
    photo = tmp_path / "photo.png"
    _photo_with_dark_scratch(photo)
    text = tmp_path / "text.png"
    text.write_text("not an image")
    good = tmp_path / "good.png"
    Image.fromarray(np.full((40, 40), 255, np.uint8)).save(good)
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(good.read_bytes()[:60])
    env = {"REKINDLE_DATA_DIR": str(tmp_path / "data")}
    for bad in (text, truncated, tmp_path / "missing.png"):
        out = tmp_path / f"{bad.stem}.jpg"
        result = rekindle("restore", str(photo), "-o", str(out), "--mask", str(bad), env=env)
        assert result.returncode == 1, (bad, result.stderr)
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith(f"error: mask {bad}"), result.stderr
        assert not out.exists()
