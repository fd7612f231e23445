"""The restoration and animation engine interfaces.

Engines are pure: bytes and parameters in, result bytes and metadata out. They touch no database and
no object store; the worker does that around them. A failure is raised as `EngineError` with a stable
code; the worker records it on the attempt and shows the user its message (seed 001's table).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol


@dataclass(frozen=True)
class RestoreRequest:
    """What a restoration engine is asked to do.

    image: the preprocessed photo, JPEG bytes, RGB (or gray stored as RGB), longest side bounded.
    image_url: where a remote provider can fetch the same bytes (a presigned S3 URL), or None.
    denoise: denoise strength 0.0-1.0 (seed 003); 0 keeps grain, 1 removes as much noise as possible.
    colorize: ask for colourisation of a monochrome photo.
    prompt: the user's extra instruction, appended to the engine's default prompt (AI engines).
    seed: random seed for stochastic engines; None lets the engine choose and report it.
    mask: a user-painted damage mask, or None: PNG bytes, 8-bit gray, the same width×height as
        `image`; non-zero pixels mark damage to repair. Only engines whose options include "mask"
        are given one.
    on_submitted: called (once, from the engine's thread) with a reference to the remote job as
        soon as the provider has queued it (`{"prompt_id": ...}`, `{"job_id": ...}`), so that the
        stuck-attempt sweep can cancel it (`cancel_remote`) if the worker dies; None: not told.
    """

    image: bytes
    image_url: str | None = None
    denoise: float = 0.5
    colorize: bool = False
    prompt: str | None = None
    seed: int | None = None
    mask: bytes | None = None
    on_submitted: Callable[[dict[str, Any]], None] | None = field(
        default=None, compare=False, repr=False
    )


@dataclass(frozen=True)
class EngineResult:
    """A finished restoration or animation.

    data: the result bytes (JPEG/PNG image, or MP4 video).
    content_type: MIME type of `data`, e.g. "image/jpeg".
    model: the model or pipeline that produced it, e.g. "Qwen/Qwen-Image-Edit" or "classic-1".
    params: metadata stored in the attempt's params JSON (prompt, steps, seed, timings, ...).
    """

    data: bytes
    content_type: str
    model: str
    params: dict[str, Any] = field(default_factory=dict)


class EngineError(Exception):
    """An engine failed. `code` is stable and machine-readable; `message` is for the user.

    `detail` keeps the provider's own words (status, body) for operators; it is stored on the attempt
    but never shown as the user message (the `rekindle restore` CLI prints it after the message).
    `params` is merged into the failed attempt's params JSON: what support needs to trace the call
    (ComfyUI `prompt_id`, SiliconFlow `trace_id`, `possibly_billed`).
    """

    def __init__(
        self,
        code: str,
        message: str,
        detail: str | None = None,
        params: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}" + (f" ({detail})" if detail else ""))
        self.code = code
        self.message = message
        self.detail = detail
        self.params: dict[str, Any] = dict(params or {})


# Seed 001's error table: provider failure -> (code, user message).
PROVIDER_AUTH = ("provider_auth_failed", "Service configuration error")
PROVIDER_BUSY = ("provider_busy", "Service busy, please try again")
PROVIDER_BAD_IMAGE = ("provider_rejected_image", "Image could not be processed")
PROVIDER_TIMEOUT = ("provider_timeout", "Service timeout, please retry")
PROVIDER_UNAVAILABLE = ("provider_unavailable", "Service unavailable")
PROVIDER_NO_BALANCE = ("provider_insufficient_balance", "Service configuration error")
PROVIDER_BAD_RESULT = ("provider_bad_result", "Image could not be processed")
# Operator faults, never the user's image: a model the provider does not have (SiliconFlow 20012),
# a ComfyUI workflow that names a missing node, model file or bad value, or runs out of memory.
PROVIDER_CONFIG = ("provider_config_error", "Service configuration error")
PROVIDER_WORKFLOW = ("provider_workflow_error", "Service configuration error")


RESTORE_OPTIONS: tuple[str, ...] = ("denoise", "colorize", "prompt", "seed", "mask")
"""The request options a restoration engine may honour; each engine lists its own subset in
`supported_options()`. A request naming an option outside that subset is refused (422
`option_unsupported`) before anything is created or charged."""


class RestorationEngine(Protocol):
    """A restoration engine. Implementations are registered by `name` in `engines.registry`.

    Each implementation also provides `from_settings(settings) -> engine` and
    `is_configured(settings) -> bool` as classmethods (see `registry`). An engine that sets the
    attribute `wants_image_url = True` (class or instance) is given `RestoreRequest.image_url` (a presigned URL of
    the preprocessed image) whenever the object store can make one.
    """

    name: ClassVar[str]

    def supported_options(self) -> frozenset[str]:
        """The subset of `RESTORE_OPTIONS` this engine (and, for ComfyUI, its workflow) honours."""
        ...

    def restore(self, request: RestoreRequest) -> EngineResult:
        """Restore `request.image`; return an image. Raises EngineError."""
        ...


class CancellableEngine(Protocol):
    """A remote engine whose queued jobs can be stopped from another process (the sweep)."""

    def cancel_remote(self, ref: dict[str, Any]) -> bool:
        """Best effort: stop the remote job `ref` (as given to `RestoreRequest.on_submitted`).
        True when the provider accepted the request. Never raises."""
        ...


@dataclass(frozen=True)
class AnimateRequest:
    """What an animation engine is asked to do.

    image: the still to animate, JPEG or PNG bytes, RGB.
    hd: render the paid HD result (1080p or the engine's best) instead of the 480p preview.
    duration_seconds: length of the clip, seconds.
    seed: random seed for stochastic engines.
    """

    image: bytes
    hd: bool = False
    duration_seconds: float = 5.0
    seed: int | None = None


@dataclass(frozen=True)
class AnimationResult:
    """A finished animation.

    video: H.264 MP4 bytes (yuv420p, faststart) that play in a browser.
    thumbnail: JPEG bytes of a representative frame.
    width, height: video size, pixels; fps: frames per second; duration_seconds: clip length.
    model: the engine or workflow that produced it; params: metadata for the attempt's params JSON.
    """

    video: bytes
    thumbnail: bytes
    width: int
    height: int
    fps: float
    duration_seconds: float
    model: str
    params: dict[str, Any] = field(default_factory=dict)


class AnimationEngine(Protocol):
    """An animation engine: a still in, an H.264 MP4 and a JPEG thumbnail out."""

    name: ClassVar[str]

    def animate(self, request: AnimateRequest) -> AnimationResult:
        """Animate `request.image`. Raises EngineError."""
        ...
