"""Response and request bodies of the photos API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

DEFAULT_DENOISE = 0.5


class RestoreOptions(BaseModel):
    """Body of `POST /photos/{id}/restore`; every field is optional.

    An option the chosen engine does not honour (its `options` in `GET /engines`) is refused with
    422 `option_unsupported` when the request *names* it (`named_options`)."""

    engine: str | None = Field(None, description="Engine name from GET /engines; default by config")
    denoise: float = Field(
        DEFAULT_DENOISE, ge=0.0, le=1.0, description="Denoise strength, 0.0-1.0 (seed 003)"
    )
    colorize: bool = Field(False, description="Colourise a monochrome photo (AI engines)")
    prompt: str | None = Field(
        None, max_length=400, description="Extra instruction appended to the engine's prompt"
    )
    seed: int | None = Field(None, ge=0, le=2**32 - 1, description="Random seed (AI engines)")
    select: bool | None = Field(
        None,
        description="Make this attempt the chosen result when it completes. Default: only when "
        "the photo has no chosen result yet (a new attempt never replaces the person's choice "
        "unasked)",
    )
    mask: str | None = Field(
        None,
        description="Damage mask: `data:image/png;base64,...`, white = damaged, any size (scaled "
        "to the photo), at most 10 MB. Only engines whose options include `mask` take one.",
    )

    def named_options(self) -> list[str]:
        """The options this request asks for, in `RESTORE_OPTIONS` order: `denoise` when it is
        not the default 0.5, `colorize` when true, `prompt` when not blank, `seed` when given,
        `mask` when given. Defaults name nothing, so a client that always sends them is served by
        every engine."""
        named = {
            "denoise": self.denoise != DEFAULT_DENOISE,
            "colorize": self.colorize,
            "prompt": bool(self.prompt and self.prompt.strip()),
            "seed": self.seed is not None,
            "mask": self.mask is not None,
        }
        return [name for name, asked in named.items() if asked]


class AttemptError(BaseModel):
    code: str
    message: str


class RestoreAttemptOut(BaseModel):
    id: uuid.UUID
    photo_id: uuid.UUID
    status: str = Field(description="pending, processing, completed or failed")
    engine: str
    model: str | None
    params: dict[str, Any]
    result_url: str | None = Field(description="Signed download URL of the restored JPEG")
    thumbnail_url: str | None
    error: AttemptError | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class AnimationAttemptOut(BaseModel):
    id: uuid.UUID
    photo_id: uuid.UUID
    status: str = Field(description="Preview: pending, processing, completed or failed")
    engine: str
    model: str | None
    source_restore_id: uuid.UUID | None = Field(
        description="Restore attempt animated (or null: the original)"
    )
    params: dict[str, Any]
    preview_url: str | None = Field(description="480p H.264 MP4 preview")
    thumbnail_url: str | None
    is_hd: bool = Field(description="Whether the paid HD result is ready")
    hd_status: str | None = Field(
        description="HD result: null (not asked), pending, processing, completed or failed"
    )
    result_url: str | None = Field(description="HD H.264 MP4 (1080p or the engine's best)")
    error: AttemptError | None
    hd_error: AttemptError | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class AnimateOptions(BaseModel):
    """Body of `POST /photos/{id}/animate`; every field is optional."""

    engine: str | None = Field(None, description="`local` or `runpod`; default by config")


class PhotoSummary(BaseModel):
    id: uuid.UUID
    status: str = Field(description="uploaded, processing, ready or archived")
    original_filename: str | None
    size_bytes: int
    mime_type: str
    width: int = Field(description="Pixels")
    height: int = Field(description="Pixels")
    checksum_sha256: str
    original_url: str
    original_display_url: str | None = Field(
        description="JPEG display copy of the original (long side <= 2560 px, upright, sRGB) for "
        "browsers; null only for an old photo whose original a browser cannot show (HEIC, TIFF)"
    )
    thumbnail_url: str | None
    processed_url: str | None = Field(description="The selected restoration, when ready")
    restored_thumbnail_url: str | None = Field(
        description="400 px thumbnail of the selected restoration, when there is one"
    )
    selected_restore_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime


class PhotoOut(PhotoSummary):
    restore_attempts: list[RestoreAttemptOut] = Field(description="Newest first")
    animation_attempts: list[AnimationAttemptOut] = Field(description="Newest first")


class PhotoPage(BaseModel):
    items: list[PhotoSummary]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end"
    )


class SelectRestore(BaseModel):
    attempt_id: uuid.UUID
