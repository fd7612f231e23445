"""`rekindle restore`: restore files on disk with an engine, no server, database or queue."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

from PIL import Image

from rekindle.config import Settings
from rekindle.engines.base import EngineError, RestoreRequest
from rekindle.engines.registry import UnknownEngine, restoration_engine
from rekindle.errors import AppError
from rekindle.imaging.decode import register_heif
from rekindle.imaging.preprocess import preprocess
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
    report: Callable[[str], None] = print,
) -> list[Path]:
    """Restore each input to its output path (JPEG). Reports one line per file; returns the inputs
    that failed (unreadable, not an image, engine error).

    mask: an image file marking damage (white or any non-zero gray = damaged), of any size: it is
    scaled to each photo. A mask that cannot be read, or an engine that takes no mask, fails
    every input with one line.
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
    for source, target in zip(inputs, output_paths(inputs, output), strict=True):
        try:
            prepared = preprocess(
                source.read_bytes(),
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
