"""Speed without changing results: work whose outcome cannot matter is skipped (issue 11's
1.0 s/MP target; the timings themselves are in benchmarks/quality/perf.py, not in tests)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from rekindle.engines.classic import defects, faces


@pytest.fixture
def face_searches(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = faces.find_faces

    def counting(y: np.ndarray) -> list[tuple[int, int, int, int]]:
        calls.append(y.size)
        return real(y)

    monkeypatch.setattr(faces, "find_faces", counting)
    return calls


def _clean(scene: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(scene, cv2.COLOR_RGB2GRAY)


def test_no_face_search_when_nothing_was_detected(
    scene: np.ndarray, face_searches: list[int]
) -> None:
    # Faces only keep hairline cracks on skin and protect features from the mask: with no
    # candidate at all the (costly) Haar search cannot change the result.
    y = _clean(scene)
    for chroma in (None, np.zeros_like(y)):
        assert not defects.detect_defects(y, 1.0, chroma).any()
    assert face_searches == []


def test_faces_are_still_searched_when_a_scratch_is_found(
    scene: np.ndarray, face_searches: list[int]
) -> None:
    y = _clean(scene)
    cv2.line(y, (10, 40), (240, 170), 250, 2)
    assert defects.detect_defects(y, 1.0).any()
    assert len(face_searches) == 1


def test_the_crack_response_is_computed_once(
    scene: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    # It is the envelope test of both bright detectors; computing it twice cost a median filter
    # and an opening per photo.
    calls: list[int] = []
    real = defects.crack_response

    def counting(y: np.ndarray, sigma: float) -> np.ndarray:
        calls.append(y.size)
        return real(y, sigma)

    monkeypatch.setattr(defects, "crack_response", counting)
    y = _clean(scene)
    cv2.line(y, (10, 40), (240, 170), 250, 2)
    assert defects.detect_defects(y, 1.0).any()
    assert len(calls) == 1
