"""Decoding is bounded by bytes, converts wide gray images without full-size float64 copies,
refuses JPEG data that ends before its declared frame, and bounds concurrent decodes."""

from __future__ import annotations

import io
import struct
import threading
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from rekindle.errors import InvalidImage
from rekindle.imaging import decode
from rekindle.imaging.decode import decode_cost, decode_slot, to_resizable
from rekindle.imaging.preprocess import preprocess
from rekindle.imaging.thumbnails import make_thumbnail
from rekindle.imaging.validate import inspect_image


def _save(tmp_path: Path, img: Image.Image, fmt: str, **params: object) -> Path:
    path = tmp_path / f"image.{fmt.lower()}"
    img.save(path, format=fmt, **params)
    return path


def test_cost_counts_bytes_of_the_decoded_mode_not_pixels() -> None:
    size = (7000, 8500)
    assert decode_cost("L", size) == 7000 * 8500
    assert decode_cost("RGB", size) == 4 * 7000 * 8500  # Pillow keeps RGB in 4 bytes a pixel
    assert decode_cost("I;16", size) == 3 * 7000 * 8500  # 16-bit + its 8-bit result
    assert decode_cost("F", size) == 5 * 7000 * 8500  # float32 + its 8-bit result
    assert decode_cost("P", size) == 5 * 7000 * 8500  # palette + RGBA


def test_float_tiff_under_the_pixel_bound_is_refused_by_bytes(tmp_path: Path) -> None:
    """Same pixel count, different cost: the float image is over the byte bound, RGB is not."""
    size = (1000, 1000)
    max_bytes = 4_500_000  # 4 MB of RGB fit; 5 MB of float + 8-bit result do not
    rgb = _save(tmp_path, Image.new("RGB", size, (10, 20, 30)), "PNG")
    assert inspect_image(rgb, max_pixels=2_000_000, max_bytes=max_bytes).width == 1000
    floats = _save(tmp_path, Image.new("F", size, 0.5), "TIFF", compression="tiff_adobe_deflate")
    with pytest.raises(InvalidImage) as caught:
        inspect_image(floats, max_pixels=2_000_000, max_bytes=max_bytes)
    assert caught.value.code == "image_too_large"
    assert "MB" in caught.value.message
    with pytest.raises(InvalidImage):
        make_thumbnail(floats.read_bytes(), max_decode_bytes=max_bytes)
    with pytest.raises(InvalidImage):
        preprocess(floats.read_bytes(), max_decode_bytes=max_bytes)


@pytest.mark.parametrize("mode", ["F", "I;16", "I"])
def test_wide_gray_conversion_makes_no_full_size_float64_copy(mode: str) -> None:
    """numpy's allocations are traced by tracemalloc (Pillow's are not): converting an image of
    W×H pixels used to allocate several W×H float64 arrays (8 bytes a pixel each)."""
    width, height = 2000, 1500
    values = {"F": 0.25, "I;16": 300, "I": 300}[mode]
    img = Image.new(mode, (width, height), values)
    tracemalloc.start()
    try:
        out = to_resizable(img)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert out.mode == "L"
    # The 8-bit result (1 byte a pixel) plus a few MB of strips; one float64 copy alone is 8.
    assert peak < 2 * width * height + 3 * decode._STRIP_BYTES
    assert peak < 8 * width * height


def test_wide_gray_conversion_keeps_its_values() -> None:
    floats = np.array([[0.0, 0.5, 1.0, np.nan], [np.inf, -1.0, 0.2, 0.999]], dtype=np.float32)
    out = np.asarray(to_resizable(Image.fromarray(floats, "F")))
    assert out.tolist() == [[0, 128, 255, 0], [255, 0, 51, 255]]
    big = np.array([[0.0, 100.0, 300.0]], dtype=np.float32)  # max over 1: taken as 0-255
    assert np.asarray(to_resizable(Image.fromarray(big, "F"))).tolist() == [[0, 100, 255]]
    sixteen = np.array([[0, 257 * 60, 65535, 128]], dtype=np.uint16)
    assert np.asarray(to_resizable(Image.fromarray(sixteen))).tolist() == [[0, 60, 255, 0]]


def test_strips_cover_tall_images_exactly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(decode, "_STRIP_BYTES", 8 * 7 * 3)  # 3 rows of 7 float64 per strip
    arr = (np.arange(7 * 10, dtype=np.float32).reshape(10, 7) / 69.0).astype(np.float32)
    out = np.asarray(to_resizable(Image.fromarray(arr, "F")))
    assert out.tolist() == np.clip(np.rint(arr.astype(np.float64) * 255), 0, 255).tolist()


def _jpeg(size: tuple[int, int]) -> bytes:
    rng = np.random.default_rng(3)
    out = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)).save(
        out, "JPEG", quality=90
    )
    return out.getvalue()


def jpeg_declaring(width: int, height: int) -> bytes:
    """A valid 880×438 JPEG whose frame header (SOF0) claims `width` × `height`."""
    data = bytearray(_jpeg((880, 438)))
    sof = data.find(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def test_jpeg_whose_header_lies_about_its_size_is_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "lie.jpg"
    path.write_bytes(jpeg_declaring(7000, 8500))
    with pytest.raises(InvalidImage) as caught:
        inspect_image(path, max_pixels=60_000_000)
    assert caught.value.code == "corrupt_image"


def test_honest_jpegs_still_pass(tmp_path: Path) -> None:
    path = tmp_path / "ok.jpg"
    path.write_bytes(_jpeg((880, 438)))
    assert inspect_image(path, max_pixels=60_000_000).width == 880
    cmyk = tmp_path / "cmyk.jpg"
    Image.new("CMYK", (64, 48), (10, 20, 30, 40)).save(cmyk, "JPEG")
    assert inspect_image(cmyk, max_pixels=60_000_000).height == 48


def test_decode_slot_bounds_concurrent_decodes() -> None:
    inside = 0
    most = 0
    lock = threading.Lock()

    def work() -> None:
        nonlocal inside, most
        with decode_slot(2):
            with lock:
                inside += 1
                most = max(most, inside)
            time.sleep(0.05)
            with lock:
                inside -= 1

    threads = [threading.Thread(target=work) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most == 2


@pytest.mark.parametrize("reducing_gap", [None, 2.0, 3.0])
def test_strip_resize_matches_a_whole_resize(reducing_gap: float | None) -> None:
    rng = np.random.default_rng(5)
    img = Image.fromarray(rng.integers(0, 255, (2300, 1900, 3), dtype=np.uint8))
    box = (3.5, 7.25, 1890.0, 2291.5)
    whole = img.resize((700, 851), Image.Resampling.LANCZOS, box=box, reducing_gap=reducing_gap)
    strips = decode.resize_lanczos(img, (700, 851), box=box, reducing_gap=reducing_gap)
    difference = np.abs(np.asarray(whole, np.int16) - np.asarray(strips, np.int16))
    assert difference.max() <= 1  # float rounding of the strip boxes
    assert difference.mean() < 0.001
