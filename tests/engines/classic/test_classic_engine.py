"""The `classic` engine through its public interface: bytes in, JPEG out."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from rekindle.config import Settings
from rekindle.engines.base import EngineError, RestoreRequest
from rekindle.engines.classic import ClassicEngine


def _encode(img: Image.Image, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt)
    return buf.getvalue()


def _decode(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def test_contract() -> None:
    settings = Settings()
    assert ClassicEngine.name == "classic"
    assert ClassicEngine.is_configured(settings) is True
    assert isinstance(ClassicEngine.from_settings(settings), ClassicEngine)


def test_restore_is_deterministic_and_reports_steps(scene: np.ndarray) -> None:
    rng = np.random.default_rng(5)
    noisy = np.clip(scene + rng.normal(0, 10, scene.shape), 0, 255).astype(np.uint8)
    request = RestoreRequest(image=_encode(Image.fromarray(noisy)), denoise=0.7, colorize=True)
    engine = ClassicEngine()
    a, b = engine.restore(request), engine.restore(request)
    assert a.data == b.data
    assert a.content_type == "image/jpeg" and a.model.startswith("classic-")
    assert Image.open(io.BytesIO(a.data)).format == "JPEG"
    params = a.params
    json.dumps(params)  # stored as the attempt's params JSON
    assert params["steps"]["analysis"]["noise_sigma"] > 3
    assert params["steps"]["denoise"]["strength"] == 0.7
    assert params["colorized"] is False and params["steps"]["colorize"]["requested"] is True
    assert params["timings_s"]["total"] > 0


@pytest.mark.parametrize("mode", ["L", "RGBA", "LA", "P", "I;16", "RGB"])
def test_any_pillow_mode_is_accepted(scene: np.ndarray, mode: str) -> None:
    img = Image.fromarray(scene)
    if mode == "I;16":
        gray = np.asarray(img.convert("L")).astype(np.uint16) * 257
        img = Image.fromarray(gray)
        assert img.mode.startswith("I;16")
    else:
        img = img.convert(mode)
    out = _decode(ClassicEngine().restore(RestoreRequest(image=_encode(img))).data)
    assert out.shape == (*scene.shape[:2], 3)
    if mode in ("L", "LA", "I;16"):
        spread = out.astype(int).max(axis=2) - out.astype(int).min(axis=2)
        assert spread.max() <= 3  # JPEG rounding only: a gray photo stays gray


def test_undecodable_bytes_raise_invalid_image() -> None:
    with pytest.raises(EngineError) as err:
        ClassicEngine().restore(RestoreRequest(image=b"not an image at all"))
    assert err.value.code == "invalid_image"


@pytest.mark.photos
def test_real_old_photos_restore(photos_dir: Path) -> None:
    engine = ClassicEngine()
    for path in sorted((photos_dir / "real-old").iterdir()):
        result = engine.restore(RestoreRequest(image=path.read_bytes()))
        out = _decode(result.data)
        src = Image.open(path)
        assert out.shape[:2] == (src.height, src.width), path.name
        if path.name.startswith("bw-"):
            assert result.params["steps"]["analysis"]["neutral_gray"], path.name
        if path.name.startswith("scratch-"):
            assert result.params["steps"]["analysis"]["monochrome"], path.name
