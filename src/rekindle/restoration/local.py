"""`rekindle restore`: restore files on disk with an engine, no server, database or queue."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

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
    report: Callable[[str], None] = print,
) -> list[Path]:
    """Restore each input to its output path (JPEG). Reports one line per file; returns the inputs
    that failed (unreadable, not an image, engine error)."""
    register_heif()
    try:
        restorer = restoration_engine(engine, settings)
    except UnknownEngine:
        report(f"error: engine {engine!r} is unknown or not configured")
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
                    image=prepared.image_bytes, denoise=denoise, colorize=colorize, prompt=prompt
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
