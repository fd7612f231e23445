"""Helpers of the production-readiness tests: workers whose logs are kept, small images, logs."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from PIL import Image


@contextmanager
def logged_worker(
    env: dict[str, str], log_path: Path, *args: str
) -> Iterator[subprocess.Popen[bytes]]:
    """A real `rekindle worker` process whose stderr (its log lines) goes to `log_path`."""
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "rekindle", "worker", "--concurrency=4", *args],
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=log_file,
        )
        try:
            yield process
        finally:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def json_lines(path: Path) -> list[dict[str, Any]]:
    """The JSON log lines of a file (other lines, e.g. Celery's banner, are skipped)."""
    lines = []
    for raw in path.read_text(errors="replace").splitlines():
        raw = raw.strip()
        if raw.startswith("{"):
            try:
                lines.append(json.loads(raw))
            except ValueError:
                continue
    return lines


def small_png(seed: int = 0, size: tuple[int, int] = (160, 120)) -> bytes:
    """A small valid PNG (distinct per seed)."""
    image = Image.new("RGB", size, ((seed * 37) % 256, (seed * 91) % 256, 120))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()
