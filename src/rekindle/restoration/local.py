"""`rekindle restore` and `rekindle split`: restore files on disk with an engine, or split scans
into prints, with no server, database or queue."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
from PIL import Image

from rekindle.config import Settings
from rekindle.engines.base import EngineError, RestoreRequest
from rekindle.engines.registry import UnknownEngine, restoration_engine
from rekindle.errors import AppError
from rekindle.imaging.decode import register_heif
from rekindle.imaging.preprocess import preprocess
from rekindle.imaging.scans import load_scan, split_scan
from rekindle.restoration.runner import _as_jpeg

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff"}


def output_paths(inputs: list[Path], output: Path) -> list[Path]:
    """Where each input's result goes: `output` itself for one input and an image-suffixed
    `output`; else `output/{stem}.jpg` (numbered when two inputs share a stem)."""
    if len(inputs) == 1 and output.suffix.lower() in IMAGE_SUFFIXES:
        return [output]
    seen: dict[str, int] = {}
    paths = []
    for path in inputs:
        count = seen.get(path.stem, 0)
        seen[path.stem] = count + 1
        name = path.stem if count == 0 else f"{path.stem}-{count + 1}"
        paths.append(output / f"{name}.jpg")
    return paths


def restore_files(
    inputs: list[Path],
    output: Path,
    settings: Settings,
    *,
    engine: str,
    denoise: float,
    colorize: bool = False,
    prompt: str | None = None,
    mask: Path | None = None,
    split: bool = False,
    report: Callable[[str], None] = print,
) -> list[Path]:
    """Restore each input to its output path (JPEG). Reports one line per file; returns the inputs
    that failed (unreadable, not an image, engine error).

    mask: an image file marking damage (white or any non-zero gray = damaged), of any size: it is
    scaled to each photo. A mask that cannot be read, or an engine that takes no mask, fails
    every input with one line.
    split=True: each input is a scan; every print found in it is restored to
    `output/{stem}-{n}.jpg` (n from 1).
    """
    register_heif()
    try:
        restorer = restoration_engine(engine, settings)
    except UnknownEngine:
        report(f"error: engine {engine!r} is unknown or not configured")
        return list(inputs)
    mask_image = None
    if mask is not None:
        if "mask" not in restorer.supported_options():
            report(f"error: engine {engine!r} does not take a mask")
            return list(inputs)
        try:
            mask_image = read_mask(mask)
        except (OSError, ValueError) as exc:
            report(f"error: mask {mask}: {exc}")
            return list(inputs)
    failures = []
    for source, target, data in _sources(inputs, output, split):
        try:
            prepared = preprocess(
                data(),
                max_side=settings.max_side_pixels,
                max_decode_bytes=settings.max_decode_bytes,
            )
            result = restorer.restore(
                RestoreRequest(
                    image=prepared.image_bytes,
                    denoise=denoise,
                    colorize=colorize,
                    prompt=prompt,
                    mask=None
                    if mask_image is None
                    else scaled_mask(mask_image, prepared.submitted_dimensions),
                )
            )
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(_as_jpeg(result.data))
        except (OSError, AppError, EngineError) as exc:
            reason = getattr(exc, "message", None) or exc.strerror or str(exc)  # type: ignore[union-attr]
            if isinstance(exc, EngineError) and exc.detail:  # the provider's own words
                reason = f"{reason}: {exc.detail}"
            report(f"{source}: cannot restore: {reason}")
            if source not in failures:
                failures.append(source)
            continue
        report(f"{source} -> {target}")
    return failures


def read_mask(path: Path) -> Image.Image:
    """Read a damage mask file as an 8-bit gray ("L") Pillow image.

    Raises OSError when the file cannot be read, ValueError when it is not an image Pillow can
    decode (the message says which).
    """
    data = path.read_bytes()
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            return im.convert("L")
    except (Image.UnidentifiedImageError, SyntaxError, ValueError) as exc:
        raise ValueError("not an image that can be read") from exc
    except OSError as exc:  # truncated or corrupt image data
        raise ValueError(f"cannot be decoded ({exc})") from exc


def scaled_mask(mask: Image.Image, size: tuple[int, int]) -> bytes:
    """`mask` scaled to `size` (width, height) as `RestoreRequest.mask` wants it: an 8-bit gray
    PNG, 255 where any part of a scaled pixel was marked (box filter, then > 0), so thin strokes
    survive a shrink."""
    scaled = mask if mask.size == size else mask.resize(size, Image.Resampling.BOX)
    binary = scaled.point(lambda v: 255 if v > 0 else 0)
    buf = io.BytesIO()
    binary.save(buf, "PNG")
    return buf.getvalue()


def _sources(
    inputs: list[Path], output: Path, split: bool
) -> Iterator[tuple[Path, Path, Callable[[], bytes]]]:
    """(input, output path, a function giving the bytes to restore) for every photo to restore:
    one per input, or with `split` one per print of each input scan. A scan that cannot be read
    is given as one entry whose bytes raise the reading error."""
    if not split:
        for source, target in zip(inputs, output_paths(inputs, output), strict=True):
            yield source, target, source.read_bytes
        return
    for source, folder_target in zip(inputs, output_paths(inputs, output), strict=True):
        try:
            prints = split_scan(load_scan(source.read_bytes()))
        except (OSError, AppError) as exc:
            yield source, folder_target, _raiser(exc)
            continue
        for number, (_, rgb) in enumerate(prints, start=1):
            target = output / f"{source.stem}-{number}.jpg"
            yield source, target, _png_of(rgb)


def _raiser(exc: Exception) -> Callable[[], bytes]:
    def read() -> bytes:
        raise exc

    return read


def _png_of(rgb: np.ndarray) -> Callable[[], bytes]:
    def encode() -> bytes:
        buffer = io.BytesIO()
        Image.fromarray(rgb).save(buffer, format="PNG", compress_level=1)
        return buffer.getvalue()

    return encode


def split_files(
    scans: list[Path], output: Path, *, border: bool = True, report: Callable[[str], None] = print
) -> list[Path]:
    """Write every print of each scan to `output/{stem}-{n}.jpg` (JPEG quality 95), straightened
    and cropped (`border=False` also trims white borders). Reports one line per scan; returns the
    scans that could not be read."""
    register_heif()
    failures = []
    for scan in scans:
        try:
            prints = split_scan(load_scan(scan.read_bytes()), border=border)
        except (OSError, AppError) as exc:
            reason = getattr(exc, "message", None) or getattr(exc, "strerror", None) or str(exc)
            report(f"{scan}: cannot split: {reason}")
            failures.append(scan)
            continue
        output.mkdir(parents=True, exist_ok=True)
        names = []
        for number, (_, rgb) in enumerate(prints, start=1):
            target = output / f"{scan.stem}-{number}.jpg"
            Image.fromarray(rgb).save(target, format="JPEG", quality=95)
            names.append(target.name)
        report(f"{scan}: {len(prints)} print(s) -> {', '.join(names)}")
    return failures
