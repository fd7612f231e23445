"""Seeded synthetic degradations of clean photos (the benchmark's presets).

Every preset takes an H×W×3 uint8 RGB photo and a numpy Generator and returns the damaged
H×W×3 uint8 RGB photo. Models: fading = blend toward a yellowed paper colour (dye loss lifts
every channel's shadows, the paper tints everything); aged = fade + optical blur + sensor/film
noise + JPEG; scratched = long thin scratches (mostly bright: emulsion gone) and dust specks
(bright and dark); noisy = iid Gaussian noise.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

Preset = Callable[[np.ndarray, np.random.Generator], np.ndarray]


def faded(
    img: np.ndarray, rng: np.random.Generator, strength: tuple[float, float] = (0.3, 0.45)
) -> np.ndarray:
    f = rng.uniform(*strength)
    paper = np.array(
        [rng.uniform(235, 250), rng.uniform(215, 235), rng.uniform(170, 205)], np.float32
    )
    out = img.astype(np.float32) * (1 - f) + paper * f
    return np.clip(out, 0, 255).round().astype(np.uint8)


def noisy(
    img: np.ndarray, rng: np.random.Generator, sigma: tuple[float, float] = (10, 20)
) -> np.ndarray:
    s = rng.uniform(*sigma)
    out = img.astype(np.float32) + rng.normal(0.0, s, img.shape).astype(np.float32)
    return np.clip(out, 0, 255).round().astype(np.uint8)


def aged(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    out = faded(img, rng, (0.2, 0.35))
    out = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.7, 1.1))
    out = noisy(out, rng, (5, 9))
    q = int(rng.integers(55, 76))
    ok, buf = cv2.imencode(".jpg", out[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, q])
    assert ok
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)[:, :, ::-1].copy()


def scratch_mask(shape: tuple[int, int], rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Draw scratches and dust. Returns (alpha H×W float32 0..1, value H×W float32 grey level)."""
    h, w = shape
    alpha = np.zeros((h, w), np.float32)
    value = np.zeros((h, w), np.float32)
    diag = float(np.hypot(h, w))
    for _ in range(int(rng.integers(5, 11))):
        p0 = rng.uniform((0, 0), (w, h))
        angle = rng.uniform(0, np.pi)
        length = rng.uniform(0.3, 0.8) * diag
        d = np.array([np.cos(angle), np.sin(angle)])
        bend = rng.normal(0, 0.04 * length) * np.array([-d[1], d[0]])
        t = np.linspace(0, 1, 50)[:, None]
        pts = p0 + t * length * d + 4 * t * (1 - t) * bend  # gently curved, like a real scratch
        layer = np.zeros((h, w), np.uint8)
        cv2.polylines(
            layer, [pts.round().astype(np.int32)], False, 255, int(rng.integers(1, 4)), cv2.LINE_AA
        )
        bright = rng.random() < 0.8
        _paint(
            alpha,
            value,
            layer,
            rng.uniform(0.7, 1.0),
            rng.uniform(215, 250) if bright else rng.uniform(10, 40),
        )
    for _ in range(int(rng.integers(20, 50))):
        layer = np.zeros((h, w), np.uint8)
        c = rng.uniform((0, 0), (w, h)).round().astype(int)
        cv2.circle(layer, (int(c[0]), int(c[1])), int(rng.integers(1, 3)), 255, -1, cv2.LINE_AA)
        bright = rng.random() < 0.5
        _paint(alpha, value, layer, 0.9, rng.uniform(225, 250) if bright else rng.uniform(10, 35))
    return alpha, value


def _paint(
    alpha: np.ndarray, value: np.ndarray, layer: np.ndarray, opacity: float, grey: float
) -> None:
    a = layer.astype(np.float32) / 255 * opacity
    sel = a > alpha
    alpha[sel] = a[sel]
    value[sel] = grey


def scratched(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    alpha, value = scratch_mask(img.shape[:2], rng)
    out = img.astype(np.float32) * (1 - alpha[..., None]) + (value * alpha)[..., None]
    return np.clip(out, 0, 255).round().astype(np.uint8)


PRESETS: dict[str, Preset] = {"faded": faded, "aged": aged, "scratched": scratched, "noisy": noisy}
