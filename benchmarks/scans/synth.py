"""Synthetic scans of several prints, with the true corners of every print.

Prints are photos from `../shared/photos` (optionally with a cream border) composited, rotated and
with a soft drop shadow, onto one of three backgrounds: a white scanner lid (with the grey shadow
band a lid leaves along one edge), a black album page, or textured paper. `perspective=True` then
warps the whole scan by a random homography, as a phone photo of an album page would be.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

BACKGROUNDS = ("white_lid", "black_page", "textured_paper")
SHARED_PHOTOS = Path(__file__).resolve().parents[2].parent / "shared" / "photos"


@dataclass(frozen=True)
class SyntheticScan:
    """rgb: H×W×3 uint8 RGB scan; quads: one 4×2 float32 array per print (top-left, top-right,
    bottom-right, bottom-left, scan pixels); angles: each print's rotation, degrees."""

    rgb: np.ndarray
    quads: list[np.ndarray]
    angles: list[float]
    background: str


def load_photos(limit: int | None = None) -> list[np.ndarray]:
    """The shared clean-reference and real-old photos as H×W×3 uint8 RGB arrays."""
    paths = sorted((SHARED_PHOTOS / "clean-reference").iterdir()) + sorted(
        (SHARED_PHOTOS / "real-old").iterdir()
    )
    photos = []
    for path in paths[:limit]:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is not None:
            photos.append(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
    return photos


def background(kind: str, width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """An empty scan: H×W×3 float32 RGB, 0..255."""
    if kind == "white_lid":
        canvas = np.full((height, width, 3), rng.uniform(244, 253), np.float32)
        # The lid's shadow: a grey band fading in along one edge.
        band = int(rng.uniform(0.02, 0.05) * width)
        ramp = np.linspace(rng.uniform(60, 110), 0, band, dtype=np.float32)
        side = rng.integers(4)
        if side == 0:
            canvas[:, :band] -= ramp[None, :, None]
        elif side == 1:
            canvas[:, -band:] -= ramp[::-1][None, :, None]
        elif side == 2:
            canvas[:band] -= ramp[:, None, None]
        else:
            canvas[-band:] -= ramp[::-1][:, None, None]
    elif kind == "black_page":
        canvas = np.full((height, width, 3), rng.uniform(12, 40), np.float32)
    elif kind == "textured_paper":
        base = np.array([rng.uniform(200, 225), rng.uniform(190, 210), rng.uniform(160, 185)])
        canvas = np.broadcast_to(base, (height, width, 3)).astype(np.float32).copy()
        for sigma, amplitude in ((2.0, 10.0), (12.0, 8.0), (60.0, 10.0)):
            noise = cv2.GaussianBlur(
                rng.standard_normal((height, width)).astype(np.float32), (0, 0), sigma
            )
            noise *= amplitude / (noise.std() + 1e-6)
            canvas += noise[..., None]
    else:
        raise ValueError(f"unknown background {kind!r}")
    canvas += rng.normal(0, 1.5, canvas.shape).astype(np.float32)
    return canvas


def _with_border(photo: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    side = max(4, int(rng.uniform(0.04, 0.08) * min(photo.shape[:2])))
    cream = np.array([rng.uniform(236, 248), rng.uniform(232, 244), rng.uniform(220, 236)])
    return cv2.copyMakeBorder(
        photo, side, side, side, side, cv2.BORDER_CONSTANT, value=cream.tolist()
    )


def _corners(center: np.ndarray, w: float, h: float, angle: float) -> np.ndarray:
    t = np.radians(angle)
    rot = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    local = np.array([[-w / 2, -h / 2], [w / 2, -h / 2], [w / 2, h / 2], [-w / 2, h / 2]])
    return (local @ rot.T + center).astype(np.float32)


def _overlaps(quad: np.ndarray, placed: list[np.ndarray], margin: float) -> bool:
    grown = quad + np.sign(quad - quad.mean(axis=0)) * margin
    for other in placed:
        area, _ = cv2.intersectConvexConvex(grown.astype(np.float32), other.astype(np.float32))
        if area > 0:
            return True
    return False


def _paste(canvas: np.ndarray, print_rgb: np.ndarray, quad: np.ndarray, shadow: bool) -> None:
    h, w = canvas.shape[:2]
    ph, pw = print_rgb.shape[:2]
    source = np.array([[0, 0], [pw, 0], [pw, ph], [0, ph]], np.float32)
    matrix = cv2.getPerspectiveTransform(source, quad.astype(np.float32))
    if shadow:
        offset = np.float32([3, 5]) * max(1.0, w / 1500)
        shadow_quad = (quad + offset).astype(np.int32)
        mask = np.zeros((h, w), np.float32)
        cv2.fillConvexPoly(mask, shadow_quad, 1.0)
        mask = cv2.GaussianBlur(mask, (0, 0), 4 * max(1.0, w / 1500))
        canvas *= (1 - 0.45 * mask)[..., None]
    warped = cv2.warpPerspective(
        print_rgb.astype(np.float32), matrix, (w, h), flags=cv2.INTER_LINEAR
    )
    alpha = cv2.warpPerspective(
        np.ones((ph, pw), np.float32), matrix, (w, h), flags=cv2.INTER_LINEAR
    )
    canvas *= (1 - alpha)[..., None]
    canvas += warped * alpha[..., None]


def make_scan(
    rng: np.random.Generator,
    photos: list[np.ndarray],
    *,
    count: int,
    kind: str,
    size: tuple[int, int] = (1700, 2200),
    max_angle: float = 30.0,
    borders: bool = True,
    touching: bool = False,
    shadows: bool = True,
    perspective: bool = False,
) -> SyntheticScan:
    """A scan (`size` = width, height pixels) with `count` prints drawn from `photos`.

    touching=True places the second print flush against the first (same angle, sharing an edge).
    """
    width, height = size
    canvas = background(kind, width, height, rng)
    quads: list[np.ndarray] = []
    angles: list[float] = []
    prints: list[np.ndarray] = []
    target_area = 0.4 * width * height / max(count, 2)
    attempts = 0
    while len(quads) < count and attempts < 400:
        attempts += 1
        photo = photos[int(rng.integers(len(photos)))]
        if borders and rng.random() < 0.7:
            photo = _with_border(photo, rng)
        ph, pw = photo.shape[:2]
        scale = np.sqrt(target_area * rng.uniform(0.4, 1.0) / (ph * pw))
        pw2, ph2 = max(60, int(pw * scale)), max(60, int(ph * scale))
        angle = float(rng.uniform(-max_angle, max_angle))
        if touching and len(quads) == 1:
            previous = quads[0]
            angle = angles[0]
            ph2 = int(np.rint(np.linalg.norm(previous[3] - previous[0])))
            direction = (previous[1] - previous[0]) / np.linalg.norm(previous[1] - previous[0])
            center = previous[1] + direction * pw2 / 2 + (previous[2] - previous[1]) / 2
        else:
            center = rng.uniform([0.08 * width, 0.08 * height], [0.92 * width, 0.92 * height])
        quad = _corners(np.asarray(center), pw2, ph2, angle)
        inside = (quad[:, 0] > 0.02 * width).all() and (quad[:, 0] < 0.98 * width).all()
        inside = (
            inside and (quad[:, 1] > 0.02 * height).all() and (quad[:, 1] < 0.98 * height).all()
        )
        touching_now = touching and len(quads) == 1
        if not inside or (not touching_now and _overlaps(quad, quads, 0.02 * width)):
            if touching_now:
                touching = False  # no room beside the first print: fall back to free placement
            continue
        prints.append(cv2.resize(photo, (pw2, ph2), interpolation=cv2.INTER_AREA))
        quads.append(quad)
        angles.append(angle)
    for print_rgb, quad in zip(prints, quads, strict=True):
        _paste(canvas, print_rgb, quad, shadows)
    if perspective:
        jitter = 0.06 * min(width, height)
        source = np.float32([[0, 0], [width, 0], [width, height], [0, height]])
        target = (source + rng.uniform(-jitter, jitter, (4, 2))).astype(np.float32)
        target -= target.min(axis=0)
        matrix = cv2.getPerspectiveTransform(source, target)
        out_w, out_h = (int(v) for v in np.ceil(target.max(axis=0)))
        canvas = cv2.warpPerspective(
            canvas, matrix, (out_w, out_h), borderMode=cv2.BORDER_REPLICATE
        )
        quads = [cv2.perspectiveTransform(q[None], matrix)[0].astype(np.float32) for q in quads]
        angles = [
            float(np.degrees(np.arctan2(q[1, 1] - q[0, 1], q[1, 0] - q[0, 0]))) for q in quads
        ]
    rgb = np.clip(canvas, 0, 255).astype(np.uint8)
    return SyntheticScan(rgb, quads, angles, kind)
