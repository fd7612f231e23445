"""Benchmark: the image work of one upload before and after display copies (issue 15).

- before: `make_thumbnail(original)` (what an upload derived until now);
- after: `make_display_copy(original)` (JPEG, long side 2560) then `make_thumbnail(display)`.

Inputs: a 12-megapixel (4000×3000) photo-like picture as JPEG (quality 90), HEIC and TIFF
(uncompressed), made in code. Wall time is the median (and min) of `--runs` calls of each, the two
interleaved so drift in machine load hits both; also the display copy's size in bytes.

Run:  uv run python benchmarks/display_copy.py [--runs 5]
"""

from __future__ import annotations

import argparse
import io
import statistics
import time
from collections.abc import Callable

import numpy as np
from PIL import Image

from rekindle.imaging import make_display_copy, make_thumbnail, register_heif

SIZE = (4000, 3000)


def picture() -> Image.Image:
    rng = np.random.default_rng(0)
    width, height = SIZE
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    u, v = x / width, y / height
    arr = np.stack(
        [120 + 90 * np.sin(6 * u + 2 * v), 110 + 80 * np.cos(5 * v - 3 * u), 100 + 70 * u * v],
        axis=-1,
    )
    arr += rng.normal(0, 6, arr.shape)
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")


def encoded(img: Image.Image, fmt: str, **params: object) -> bytes:
    register_heif()
    out = io.BytesIO()
    img.save(out, format=fmt, **params)
    return out.getvalue()


def timed(call: Callable[[], object]) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    img = picture()
    inputs = {
        "JPEG q90": encoded(img, "JPEG", quality=90),
        "HEIC": encoded(img, "HEIF", quality=90),
        "TIFF": encoded(img, "TIFF"),
    }
    print(f"{SIZE[0]}×{SIZE[1]}, median (min) of {runs} runs, seconds")
    print("| input | before: thumbnail | after: display copy + thumbnail | ratio | display copy |")
    print("| --- | --- | --- | --- | --- |")
    for name, data in inputs.items():
        before: list[float] = []
        after: list[float] = []
        display = make_display_copy(data)
        for _ in range(runs):
            before.append(timed(lambda data=data: make_thumbnail(data)))
            after.append(timed(lambda data=data: make_thumbnail(make_display_copy(data))))
        b, a = statistics.median(before), statistics.median(after)
        print(
            f"| {name} ({len(data) / 1e6:.1f} MB) | {b:.2f} ({min(before):.2f}) | "
            f"{a:.2f} ({min(after):.2f}) | {a / b:.2f}× | {len(display) / 1e6:.2f} MB |"
        )


if __name__ == "__main__":
    main()
