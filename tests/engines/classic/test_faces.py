"""Face finding under the worker's thread pool: the worker restores several photos at once in
threads, so `find_faces` must be safe to call concurrently."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from PIL import Image

from rekindle.engines.classic import faces
from tests.support.services import shared_photo


def test_find_faces_is_safe_from_many_threads_at_once() -> None:
    photo = shared_photo("real-old/scratch-couple-soldier.png")
    y = np.asarray(Image.open(photo).convert("L"))
    if faces._classifier() is None:
        pytest.skip("this OpenCV build ships no Haar cascades")
    expected = faces.find_faces(y)
    assert expected, "the soldier print has frontal faces"
    # Differently sized inputs make the threads' scale pyramids differ: a shared classifier then
    # fails with OpenCV's "(-215) 0 <= scaleIdx" assertion or returns wrong boxes.
    inputs = [y if i % 2 == 0 else y[: y.shape[0] * 3 // 4] for i in range(48)]
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(faces.find_faces, inputs))
    # (OpenCV's own parallel loop may list the boxes in any order.)
    for y_in, found in zip(inputs, results, strict=True):
        assert sorted(found) == sorted(faces.find_faces(y_in))
    assert sorted(results[0]) == sorted(expected)
