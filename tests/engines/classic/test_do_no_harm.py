"""Issue 11: classic does no harm to undamaged photos, takes no content for damage, and
honours a person's damage mask."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from PIL import Image

from rekindle.engines.base import EngineError, RestoreRequest
from rekindle.engines.classic import ClassicEngine, RestoreOptions, restore_array
from rekindle.engines.classic.imageio import decode
from tests.support.services import SHARED_PHOTOS


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255**2 / max(mse, 1e-12)))


def _luma(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)


def _sepia(gray: np.ndarray) -> np.ndarray:
    g = gray.astype(np.float32)[..., None] * np.array([1.07, 0.95, 0.78], np.float32)
    return np.clip(g, 0, 255).round().astype(np.uint8)


def _variants(rgb: np.ndarray) -> dict[str, np.ndarray]:
    g = _luma(rgb)
    return {"colour": rgb, "gray": np.dstack([g, g, g]), "toned": _sepia(g)}


def test_clean_scene_comes_back_almost_unchanged_in_colour_gray_and_toned(
    scene: np.ndarray,
) -> None:
    for name, ref in _variants(scene).items():
        out, report = restore_array(ref)
        score = _psnr(_luma(out), _luma(ref)) if name != "colour" else _psnr(out, ref)
        assert score >= 36, (name, score, report["steps"])
        assert report["steps"]["defects"]["pixel_fraction"] == 0, name


@pytest.mark.xfail(
    strict=True,
    reason="known miss (docs/benchmarks.md): thin bright picture lines (set12-monarch's wing "
    "edge, set12-house's gutter and pipe) still pass for scratches and are inpainted; repeated "
    "spots (the monarch's body spots) no longer pass for dust since classic-8",
)
def test_clean_references_stay_within_the_clean_target() -> None:
    folder = SHARED_PHOTOS / "clean-reference"
    if not folder.is_dir():
        pytest.skip(f"{folder} is absent: the shared photo set lives beside the repository")
    from skimage.metrics import structural_similarity

    scores = []
    for path in sorted(folder.iterdir()):
        rgb = decode(path.read_bytes())[0]
        s = 384 / max(rgb.shape[:2])  # the benchmark's bounded size
        if s < 1:
            rgb = cv2.resize(rgb, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
        for name, ref in _variants(rgb).items():
            if name == "colour" and np.array_equal(rgb[..., 0], rgb[..., 2]):
                continue  # a monochrome reference has no colour version
            out = restore_array(ref)[0]
            a, b = (out, ref) if name == "colour" else (_luma(out), _luma(ref))
            ssim = structural_similarity(
                b, a, data_range=255, channel_axis=2 if a.ndim == 3 else None
            )
            scores.append((f"{path.name}:{name}", _psnr(a, b), ssim))
    psnr = np.array([s[1] for s in scores])
    worst = scores[int(psnr.argmin())]
    assert psnr.mean() >= 36, psnr.mean()
    assert worst[1] >= 32, worst
    assert np.mean([s[2] for s in scores]) >= 0.97


def _text_page() -> np.ndarray:
    page = np.full((360, 480), 236, np.uint8)
    words = [
        "segmentation of old",
        "photographs is hard",
        "lines: ill, lit, fill",
        "1919 ||| /// iii",
    ]
    for i, line in enumerate(words):
        cv2.putText(
            page, line, (12, 60 + 80 * i), cv2.FONT_HERSHEY_SIMPLEX, 1.1, 25, 2, cv2.LINE_AA
        )
    return np.dstack([page, page, page])


def _line_art() -> np.ndarray:
    art = np.full((320, 320), 240, np.uint8)
    for k in range(0, 320, 9):  # hatching
        cv2.line(art, (k, 0), (0, k), 30, 1, cv2.LINE_AA)
    cv2.circle(art, (200, 180), 80, 20, 2, cv2.LINE_AA)
    cv2.ellipse(art, (200, 180), (40, 20), 30, 0, 360, 20, 1, cv2.LINE_AA)
    for k in range(8):  # whisker-like strokes
        cv2.line(art, (150, 260 + 5 * k), (310, 250 + 7 * k), 30, 1, cv2.LINE_AA)
    art[20:120, 220:310] = 35  # a dark patch with pale strokes between dark ones (fabric)
    for k in range(6):
        cv2.line(art, (225, 30 + 15 * k), (305, 35 + 15 * k), 120, 3, cv2.LINE_AA)
        cv2.line(art, (225, 37 + 15 * k), (305, 42 + 15 * k), 15, 2, cv2.LINE_AA)
    return np.dstack([art, art, art])


@pytest.mark.parametrize("make", [_text_page, _line_art], ids=["text", "line-art"])
def test_no_inpainting_on_text_or_line_art(make) -> None:  # type: ignore[no-untyped-def]
    img = make()
    for ref in (img, _sepia(img[..., 0])):
        out, report = restore_array(ref)
        assert report["steps"]["defects"]["detected_fraction"] == 0, report["steps"]["defects"]
        assert _psnr(_luma(out), _luma(ref)) >= 36


def _scratched(scene: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The scene with a bright scratch (detection finds it) and a dark one (it does not)."""
    damaged = scene.copy()
    bright = np.zeros(scene.shape[:2], np.uint8)
    cv2.line(bright, (20, 170), (240, 30), 255, 2)
    damaged[bright > 0] = (245, 245, 245)
    dark = np.zeros(scene.shape[:2], np.uint8)
    dark[100:103, 30:200] = 255
    damaged[dark > 0] = (20, 20, 20)
    return damaged, bright > 0, dark > 0


def test_mask_is_inpainted_together_with_what_is_detected(scene: np.ndarray) -> None:
    damaged, bright, dark = _scratched(scene)
    plain, _ = restore_array(damaged)
    assert np.abs(plain[dark].astype(int) - scene[dark].astype(int)).mean() > 60  # not found
    mask = np.zeros(scene.shape[:2], np.uint8)
    mask[98:105, 25:205] = 255
    out, report = restore_array(damaged, RestoreOptions(defect_mask=mask))
    assert report["steps"]["defects"]["explicit_mask"] is True
    assert np.abs(out[dark].astype(int) - scene[dark].astype(int)).mean() < 15
    assert np.abs(out[bright].astype(int) - scene[bright].astype(int)).mean() < 15  # union


def _png(gray: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(gray).save(buf, "PNG")
    return buf.getvalue()


def test_engine_takes_a_mask_and_rejects_a_bad_one(scene: np.ndarray) -> None:
    engine = ClassicEngine()
    assert engine.supported_options() == frozenset({"denoise", "mask"})
    damaged, _, dark = _scratched(scene)
    image = _png(cv2.cvtColor(damaged, cv2.COLOR_RGB2BGR)[..., ::-1].copy())
    mask = np.zeros(scene.shape[:2], np.uint8)
    mask[98:105, 25:205] = 255
    with_mask = decode(engine.restore(RestoreRequest(image=image, mask=_png(mask))).data)[0]
    without = decode(engine.restore(RestoreRequest(image=image)).data)[0]
    err_with = np.abs(with_mask[dark].astype(int) - scene[dark].astype(int)).mean()
    err_without = np.abs(without[dark].astype(int) - scene[dark].astype(int)).mean()
    assert err_with < 20 < err_without
    for bad in (b"not a png", _png(mask)[:40], _png(mask[:50])):
        with pytest.raises(EngineError) as info:
            engine.restore(RestoreRequest(image=image, mask=bad))
        assert info.value.code == "invalid_mask"
