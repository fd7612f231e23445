"""Test images generated in code (no binary fixtures): encoders, a photo-like picture, a corner
marker for orientation checks, a hand-built ICC profile and a PNG that lies about its size."""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from rekindle.imaging import register_heif

RED = (255, 0, 0)
BLUE = (0, 0, 255)


def encode(img: Image.Image, fmt: str, **params: object) -> bytes:
    """`img` saved in Pillow format `fmt` ("JPEG", "PNG", "HEIF", "WEBP", "TIFF", "GIF", ...)."""
    if fmt == "HEIF":
        register_heif()
    buffer = io.BytesIO()
    img.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def decode(data: bytes) -> Image.Image:
    register_heif()
    img = Image.open(io.BytesIO(data))
    img.load()
    return img


def photo_like(width: int, height: int, *, seed: int = 0) -> Image.Image:
    """A deterministic RGB picture with smooth gradients, edges, texture and noise, so that
    encoders produce realistic amounts of data and resampling errors show up."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    u, v = x / max(width - 1, 1), y / max(height - 1, 1)
    r = 120 + 90 * np.sin(6.0 * u + 2.0 * v)
    g = 110 + 80 * np.cos(5.0 * v - 3.0 * u)
    b = 100 + 70 * np.sin(9.0 * u * v + 1.0)
    stripes = 25 * (np.sin(x / 3.0) > 0.6)
    disc = 40 * (((u - 0.6) ** 2 + (v - 0.4) ** 2) < 0.04)
    arr = np.stack([r + stripes, g + disc, b - disc], axis=-1)
    arr += rng.normal(0, 6, arr.shape)
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")


def with_marker(
    size: tuple[int, int], *, background=BLUE, marker=RED, marker_size: int = 10
) -> Image.Image:
    """A flat image with a square `marker` in its top-left corner."""
    img = Image.new("RGB", size, background)
    img.paste(marker, (0, 0, marker_size, marker_size))
    return img


def exif_with_orientation(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif.tobytes()


def png_declaring(width: int, height: int) -> bytes:
    """A few-hundred-byte PNG whose header declares width × height RGB pixels (a decompression
    bomb shape): its IDAT holds only one compressed row, so decoding it would fail."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        body = kind + payload
        return struct.pack(">I", len(payload)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" + b"\x00" * 3 * min(width, 1024))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def _s15f16(value: float) -> bytes:
    return struct.pack(">i", round(value * 65536))


def swapped_primaries_icc() -> bytes:
    """A valid ICC v2 RGB display profile whose red and blue colorants are swapped relative to
    sRGB (linear TRCs), described as "Rekindle test BGR". Pixels (255, 0, 0) tagged with it are
    pure blue, so a correct conversion to sRGB turns them blue."""

    def xyz(x: float, y: float, z: float) -> bytes:
        return b"XYZ " + b"\0" * 4 + _s15f16(x) + _s15f16(y) + _s15f16(z)

    description = b"Rekindle test BGR\0"
    desc = (
        b"desc"
        + b"\0" * 4
        + struct.pack(">I", len(description))
        + description
        + b"\0" * 8  # Unicode language code and count
        + b"\0" * 3  # ScriptCode code and count
        + b"\0" * 67
    )
    linear = b"curv" + b"\0" * 4 + struct.pack(">I", 0)
    tags = [
        (b"desc", desc),
        (b"wtpt", xyz(0.9642, 1.0, 0.8249)),
        (b"rXYZ", xyz(0.1431, 0.0606, 0.7141)),  # sRGB's blue, D50
        (b"gXYZ", xyz(0.3851, 0.7169, 0.0971)),
        (b"bXYZ", xyz(0.4361, 0.2225, 0.0139)),  # sRGB's red, D50
        (b"rTRC", linear),
        (b"gTRC", linear),
        (b"bTRC", linear),
        (b"cprt", b"text" + b"\0" * 4 + b"No copyright, test data\0"),
    ]
    offset = 128 + 4 + 12 * len(tags)
    table, data = b"", b""
    for signature, payload in tags:
        while (offset + len(data)) % 4:
            data += b"\0"
        table += signature + struct.pack(">II", offset + len(data), len(payload))
        data += payload
    body = struct.pack(">I", len(tags)) + table + data
    size = 128 + len(body)
    header = (
        struct.pack(">I", size)
        + b"lcms"
        + bytes([2, 0x10, 0, 0])
        + b"mntrRGB XYZ "
        + struct.pack(">6H", 2024, 1, 1, 0, 0, 0)
        + b"acsp"
        + b"\0" * 4  # platform
        + b"\0" * 4  # flags
        + b"\0" * 8  # manufacturer, model
        + b"\0" * 8  # attributes
        + struct.pack(">I", 0)  # perceptual intent
        + _s15f16(0.9642)
        + _s15f16(1.0)
        + _s15f16(0.8249)
        + b"\0" * 4  # creator
    )
    header += b"\0" * (128 - len(header))
    return header + body


def channels(img: Image.Image, xy: tuple[int, int]) -> tuple[int, ...]:
    value = img.convert("RGB").getpixel(xy)
    assert isinstance(value, tuple)
    return value


def close_to(actual: tuple[int, ...], expected: tuple[int, ...], tolerance: int) -> bool:
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True))


def psnr(a: Image.Image, b: Image.Image) -> float:
    x = np.asarray(a.convert("RGB"), dtype=np.float64)
    y = np.asarray(b.convert("RGB"), dtype=np.float64)
    mse = float(np.mean((x - y) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


@pytest.fixture
def write_file(tmp_path: Path) -> Callable[[str, bytes], Path]:
    """Write bytes to a file in the test's temporary folder and return its path."""

    def write(name: str, data: bytes) -> Path:
        path = tmp_path / name
        path.write_bytes(data)
        return path

    return write


class Images:
    """The generators above, handed to tests by the `images` fixture."""

    encode = staticmethod(encode)
    decode = staticmethod(decode)
    photo_like = staticmethod(photo_like)
    with_marker = staticmethod(with_marker)
    exif_with_orientation = staticmethod(exif_with_orientation)
    png_declaring = staticmethod(png_declaring)
    swapped_primaries_icc = staticmethod(swapped_primaries_icc)
    channels = staticmethod(channels)
    close_to = staticmethod(close_to)
    psnr = staticmethod(psnr)


@pytest.fixture
def images() -> type[Images]:
    return Images
