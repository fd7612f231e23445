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


def scratch_mask(
    shape: tuple[int, int], rng: np.random.Generator, dark_share: float = 0.2
) -> tuple[np.ndarray, np.ndarray]:
    """Draw scratches and dust. Returns (alpha H×W float32 0..1, value H×W float32 grey level).

    dark_share: probability that a scratch is dark (the rest are bright: emulsion gone).
    """
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
        bright = rng.random() >= dark_share
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


# --- issue 11: generalization presets -------------------------------------------------------
# Each takes and returns H×W×3 uint8 RGB, seeded by the generator it is given.


def clean(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """No damage: a good photo must come back almost unchanged."""
    return img.copy()


def jpeg(img: np.ndarray, quality: int) -> np.ndarray:
    """Round-trip through OpenCV's JPEG codec at `quality` (1..100)."""
    ok, buf = cv2.imencode(".jpg", img[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    assert ok
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)[:, :, ::-1].copy()


def colour_jitter(img: np.ndarray, rng: np.random.Generator, amount: float = 0.08) -> np.ndarray:
    """Brightness, contrast and saturation each scaled by 1 ± `amount` (torchvision's
    ColorJitter, written out)."""
    f = img.astype(np.float32)
    f *= rng.uniform(1 - amount, 1 + amount)  # brightness
    mean = f.mean()
    f = (f - mean) * rng.uniform(1 - amount, 1 + amount) + mean  # contrast
    gray = f @ np.array([0.299, 0.587, 0.114], np.float32)
    f = (f - gray[..., None]) * rng.uniform(1 - amount, 1 + amount) + gray[..., None]
    return np.clip(f, 0, 255).round().astype(np.uint8)


def speckle(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Multiplicative noise (each pixel × (1 + n), n ~ N(0, 0.08..0.16) per channel), with a
    mild colour jitter."""
    s = rng.uniform(0.08, 0.16)
    f = img.astype(np.float32) * (1.0 + rng.normal(0.0, s, img.shape).astype(np.float32))
    return colour_jitter(np.clip(f, 0, 255).round().astype(np.uint8), rng, 0.05)


def underexposed(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A dark, noisy photo: linear light × 0.12..0.3 (1.3 to 3 stops under), then sensor noise
    of sigma 2..5 grey levels in the dark encoded image."""
    lin = (img.astype(np.float32) / 255.0) ** 2.2 * rng.uniform(0.12, 0.3)
    out = 255.0 * lin ** (1 / 2.2) + rng.normal(0.0, rng.uniform(2, 5), img.shape)
    return np.clip(out, 0, 255).round().astype(np.uint8)


def _luma(img: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)


def sepia(gray: np.ndarray, strength: float = 1.0) -> np.ndarray:
    """Tone an H×W uint8 gray image like a sepia print: H×W×3 uint8 RGB. strength 0..1."""
    g = gray.astype(np.float32)
    tint = np.array([1.07, 0.95, 0.78], np.float32)
    toned = np.clip(g[..., None] * tint, 0, 255)
    out = g[..., None] * (1 - strength) + toned * strength
    return np.clip(out, 0, 255).round().astype(np.uint8)


def film_grain(img: np.ndarray, rng: np.random.Generator, sigma: float) -> np.ndarray:
    """Spatially correlated grain: white noise blurred over ~1.5 px, rescaled to `sigma`."""
    n = cv2.GaussianBlur(rng.normal(0.0, 1.0, img.shape[:2]).astype(np.float32), (0, 0), 0.9)
    n *= sigma / max(float(n.std()), 1e-6)
    out = img.astype(np.float32) + (n[..., None] if img.ndim == 3 else n)
    return np.clip(out, 0, 255).round().astype(np.uint8)


def toned_print(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A monochrome print: fading, sepia toning, film grain, blur, bright and dark scratches,
    dust, JPEG."""
    g = _luma(img)
    out = faded(np.dstack([g, g, g]), rng, (0.15, 0.3))
    out = sepia(_luma(out), rng.uniform(0.6, 1.0))
    out = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.5, 0.9))
    out = film_grain(out, rng, rng.uniform(4, 8))
    alpha, value = scratch_mask(out.shape[:2], rng, dark_share=0.4)
    out = (out.astype(np.float32) * (1 - alpha[..., None]) + (value * alpha)[..., None]).clip(
        0, 255
    )
    return jpeg(out.round().astype(np.uint8), int(rng.integers(60, 86)))


def crease_mask(shape: tuple[int, int], rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A fold across the print: a long jagged crack (paper showing) with short branches,
    (alpha, grey value) as `scratch_mask`."""
    h, w = shape
    alpha = np.zeros((h, w), np.float32)
    value = np.zeros((h, w), np.float32)
    vertical = rng.random() < 0.5
    n = 40
    t = np.linspace(0, 1, n)
    pos = rng.uniform(0.3, 0.7)
    wobble = np.cumsum(rng.normal(0, 0.6, n))
    if vertical:
        pts = np.stack([pos * w + wobble + 0.1 * w * (t - 0.5), t * h], axis=1)
    else:
        pts = np.stack([t * w, pos * h + wobble + 0.1 * h * (t - 0.5)], axis=1)
    layer = np.zeros((h, w), np.uint8)
    cv2.polylines(layer, [pts.round().astype(np.int32)], False, 255, 2, cv2.LINE_AA)
    for _ in range(int(rng.integers(6, 14))):
        p = pts[int(rng.integers(0, n))]
        ang = rng.uniform(0, 2 * np.pi)
        ln = rng.uniform(0.03, 0.1) * min(h, w)
        q = p + ln * np.array([np.cos(ang), np.sin(ang)])
        cv2.line(
            layer, tuple(p.round().astype(int)), tuple(q.round().astype(int)), 255, 1, cv2.LINE_AA
        )
    _paint(alpha, value, layer, rng.uniform(0.75, 0.95), rng.uniform(215, 245))
    return alpha, value


def creased(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A creased or folded monochrome print: light fading and toning, a fold crack with
    branches, and a slight brightness step across the fold."""
    g = _luma(img).astype(np.float32)
    h, w = g.shape
    yy, xx = np.mgrid[0:h, 0:w]
    side = (xx > w / 2) if rng.random() < 0.5 else (yy > h / 2)
    g *= np.where(side, rng.uniform(0.95, 1.05), 1.0).astype(np.float32)
    out = faded(np.dstack([g, g, g]).clip(0, 255).round().astype(np.uint8), rng, (0.1, 0.2))
    out = sepia(_luma(out), rng.uniform(0.5, 1.0))
    alpha, value = crease_mask(out.shape[:2], rng)
    out = out.astype(np.float32) * (1 - alpha[..., None]) + (value * alpha)[..., None]
    return np.clip(out, 0, 255).round().astype(np.uint8)


# Wan et al., "Bringing Old Photos Back to Life" (CVPR 2020), section 3.3 and their released
# training code (Global/data/online_dataset_for_old_photos.py, online_add_degradation_v2) describe
# the synthesis: in random order, each with probability 0.7, a Gaussian blur (kernel 3/5/7,
# sigma 1..5), noise (Gaussian or speckle of sigma 5..50, or salt-and-pepper), a low-resolution
# round trip (down to 1/2..1, back by nearest or bilinear) and JPEG (quality 40..100); then
# colour jitter, and scratch and paper-texture overlays for structured damage. Written here from
# that description; noise is capped at sigma 30 to keep it a photo (theirs trains a network).


def _wan_unstructured(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    out = img
    for task in rng.permutation(4):
        if rng.random() >= 0.7:
            continue
        if task == 0:
            k = int(rng.choice([3, 5, 7]))
            out = cv2.GaussianBlur(out, (k, k), rng.uniform(1.0, 5.0))
        elif task == 1:
            kind = int(rng.integers(0, 3))
            f = out.astype(np.float32)
            s = rng.uniform(5, 30)
            n = rng.normal(0.0, s, out.shape).astype(np.float32)
            if kind == 0:
                f += n
            elif kind == 1:
                f += n * f / 255.0
            else:
                amount, salt = rng.uniform(0, 0.01), rng.uniform(0.3, 0.8)
                flip = rng.random(out.shape[:2]) < amount
                white = rng.random(out.shape[:2]) < salt
                f[flip & white] = 255
                f[flip & ~white] = 0
            out = np.clip(f, 0, 255).round().astype(np.uint8)
        elif task == 2:
            h, w = out.shape[:2]
            small = cv2.resize(
                out,
                (int(rng.integers(w // 2, w + 1)), int(rng.integers(h // 2, h + 1))),
                interpolation=cv2.INTER_CUBIC,
            )
            interp = cv2.INTER_NEAREST if rng.random() < 0.5 else cv2.INTER_LINEAR
            out = cv2.resize(small, (w, h), interpolation=interp)
        else:
            out = jpeg(out, int(rng.integers(40, 101)))
    return colour_jitter(out, rng, 0.06)


def wan(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Wan et al.'s unstructured degradation: blur, noise, low resolution, JPEG, colour jitter."""
    return _wan_unstructured(img, rng)


def wan_scratched(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Wan et al.'s structured degradation on top: white scratch strokes (their irregular holes
    are filled with white) and a low-frequency paper texture."""
    out = _wan_unstructured(img, rng).astype(np.float32)
    h, w = out.shape[:2]
    tex = cv2.GaussianBlur(rng.normal(0, 1, (h, w)).astype(np.float32), (0, 0), max(h, w) / 40)
    tex *= rng.uniform(0.03, 0.06) / max(float(tex.std()), 1e-6)
    out *= (1.0 + tex)[..., None]
    alpha, _ = scratch_mask((h, w), rng, dark_share=0.0)
    out = out * (1 - alpha[..., None]) + 255.0 * alpha[..., None]
    return np.clip(out, 0, 255).round().astype(np.uint8)


PRESETS: dict[str, Preset] = {
    "clean": clean,
    "faded": faded,
    "aged": aged,
    "scratched": scratched,
    "noisy": noisy,
    "speckle": speckle,
    "underexposed": underexposed,
    "toned-print": toned_print,
    "creased": creased,
    "wan": wan,
    "wan-scratched": wan_scratched,
}
"""Every preset by name, in table order."""
COLOUR_ONLY = frozenset({"faded", "aged", "speckle"})  # need colour to mean anything
MONO_ONLY = frozenset({"toned-print", "creased"})  # monochrome print damage
WAN_FAMILY = frozenset({"wan", "wan-scratched"})
