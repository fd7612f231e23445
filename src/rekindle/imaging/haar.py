"""OpenCV's bundled Haar cascades (`cv2.data.haarcascades`, shipped in the opencv wheel: nothing
is downloaded), one instance per thread.

`cv2.CascadeClassifier.detectMultiScale` keeps its scale pyramid inside the object, so two threads
sharing one fail with "(-215) 0 <= scaleIdx && scaleIdx < scaleData->size()" or get each other's
boxes. The worker restores and animates in threads, hence one classifier per thread and name.
"""

from __future__ import annotations

import threading
from pathlib import Path

import cv2

_local = threading.local()


def cascade(*names: str) -> cv2.CascadeClassifier | None:
    """The first of the bundled cascade files `names` (e.g. "haarcascade_frontalface_default.xml")
    that loads, as this thread's own classifier; None when the OpenCV build ships none of them
    (OpenCV 5 wheels, builds without data files). Never raises."""
    loaded: dict[tuple[str, ...], cv2.CascadeClassifier | None] = _local.__dict__.setdefault(
        "cascades", {}
    )
    if names not in loaded:
        loaded[names] = _load(names)
    return loaded[names]


def _load(names: tuple[str, ...]) -> cv2.CascadeClassifier | None:
    folder = getattr(getattr(cv2, "data", None), "haarcascades", None)
    if not folder:
        return None
    for name in names:
        path = Path(folder) / name
        if not path.is_file():
            continue
        try:
            classifier = cv2.CascadeClassifier(str(path))
        except cv2.error:  # pragma: no cover - depends on the OpenCV build
            continue
        if not classifier.empty():
            return classifier
    return None
