"""The camera path: inside the picture, toward the subject, eased, continuous velocity."""

from __future__ import annotations

import itertools

import cv2
import numpy as np
import pytest

from rekindle.engines.animation.motion import (
    MAX_ZOOM,
    MIN_ZOOM,
    CameraPath,
    Window,
    ease_in_out,
    plan_camera,
)


def path_arrays(path: CameraPath) -> np.ndarray:
    """frames × 4 array of (cx, cy, width, height)."""
    return np.array([[w.cx, w.cy, w.width, w.height] for w in map(path.window, range(path.frames))])


def test_ease_in_out() -> None:
    assert ease_in_out(0.0) == 0.0
    assert ease_in_out(1.0) == 1.0
    assert ease_in_out(0.5) == pytest.approx(0.5)
    values = [ease_in_out(t / 100) for t in range(101)]
    assert all(b > a for a, b in itertools.pairwise(values))
    assert ease_in_out(-1.0) == 0.0 and ease_in_out(2.0) == 1.0


@pytest.mark.parametrize(
    ("size", "aspect", "box"),
    [
        ((1000, 1247), 480 / 598, (320, 410, 347, 465)),  # portrait, subject off-centre
        ((880, 438), 854 / 480, (0, 0, 60, 60)),  # subject in a corner
        ((3000, 800), 16 / 9, (2900, 700, 90, 90)),  # panorama wider than 16:9, far subject
        ((400, 400), 1.0, (0, 0, 400, 400)),  # subject is the whole picture
    ],
)
def test_every_window_is_inside_the_picture(size, aspect, box) -> None:
    path = plan_camera(size, aspect, box, 125)
    for window in map(path.window, range(path.frames)):
        x, y, w, h = window.box
        assert x >= -1e-9 and y >= -1e-9
        assert x + w <= size[0] + 1e-9 and y + h <= size[1] + 1e-9
        assert w / h == pytest.approx(aspect)
    assert MIN_ZOOM - 1e-9 <= path.zoom <= MAX_ZOOM + 1e-9


def test_starts_wide_and_ends_on_the_subject() -> None:
    path = plan_camera((2000, 2000), 1.0, (1100, 900, 100, 100), 100)
    assert path.window(0) == path.start == Window(1000.0, 1000.0, 2000.0, 2000.0)
    end = path.window(99)
    assert (end.cx, end.cy) == pytest.approx((1150.0, 950.0))
    assert end.width == pytest.approx(2000 / MAX_ZOOM)  # a small subject gets the closest zoom


def test_end_window_is_clamped_but_keeps_the_subject() -> None:
    path = plan_camera((1000, 1000), 1.0, (600, 100, 100, 100), 100)
    end = path.window(99)
    assert (end.cx, end.cy) == pytest.approx((600.0, 400.0))  # as close as the edges allow
    x, y, w, h = end.box
    assert x <= 600 and x + w >= 700 and y <= 100 and y + h >= 200


def test_a_large_subject_gets_a_gentle_zoom() -> None:
    path = plan_camera((1000, 1000), 1.0, (100, 100, 800, 800), 50)
    assert path.zoom == pytest.approx(MIN_ZOOM)


def test_velocity_is_continuous_and_zero_at_the_ends() -> None:
    path = plan_camera((1000, 1247), 480 / 598, (320, 410, 347, 465), 125)
    values = path_arrays(path)
    velocity = np.diff(values, axis=0)
    peak = np.abs(velocity).max(axis=0)
    assert (peak > 0).all(), "every coordinate moves"
    # Eased: the first and last steps are tiny compared with the fastest step.
    assert (np.abs(velocity[0]) <= 0.02 * peak).all()
    assert (np.abs(velocity[-1]) <= 0.02 * peak).all()
    # Continuous: velocity changes by a small fraction of its peak from one frame to the next.
    acceleration = np.abs(np.diff(velocity, axis=0))
    assert (acceleration.max(axis=0) <= 0.05 * peak).all()
    # Monotonic: the camera never reverses (no jitter).
    for column in range(4):
        signs = np.sign(velocity[1:-1, column])
        assert (signs == signs[0]).all()


def test_positions_are_sub_pixel() -> None:
    """Windows move by fractions of a pixel: no integer crops."""
    path = plan_camera((1000, 1247), 480 / 598, (320, 410, 347, 465), 125)
    values = path_arrays(path)
    assert np.abs(values - np.round(values)).max() > 0.1
    assert np.abs(np.diff(values[:, 0])).min() < 1.0


def test_inverse_affine_samples_the_window() -> None:
    """A full-picture window at the picture's own size reproduces the picture exactly, and a
    half-size window at scale 2 samples the matching region."""
    rng = np.random.default_rng(1)
    picture = rng.integers(0, 255, (60, 80, 3), dtype=np.uint8)
    path = CameraPath(Window(40, 30, 80, 60), Window(40, 30, 80, 60), 2)
    matrix = path.inverse_affine(0, (80, 60))
    warped = cv2.warpAffine(
        picture, matrix, (80, 60), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    )
    assert np.array_equal(warped, picture)

    doubled = cv2.resize(picture, (160, 120), interpolation=cv2.INTER_NEAREST)
    corner = CameraPath(Window(20, 15, 40, 30), Window(20, 15, 40, 30), 1)
    matrix = corner.inverse_affine(0, (40, 30), scale=2.0)
    # Output pixel u covers pixels 2u and 2u + 1 of the doubled picture, centre 2u + 0.5: both
    # hold picture[u], so bilinear sampling gives the top-left quarter of the picture exactly.
    assert matrix.tolist() == [[2.0, 0.0, 0.5], [0.0, 2.0, 0.5]]
    warped = cv2.warpAffine(
        doubled, matrix, (40, 30), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    )
    assert np.array_equal(warped, picture[:30, :40])


def test_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        plan_camera((0, 100), 1.0, (0, 0, 1, 1), 10)
    with pytest.raises(ValueError):
        plan_camera((100, 100), 1.0, (0, 0, 1, 1), 10, min_zoom=0.9)
