"""Turn photo and attempt rows into API bodies, with signed download URLs."""

from __future__ import annotations

from pathlib import Path

from rekindle.models import AnimationAttempt, Photo, PhotoStatus, RestoreAttempt
from rekindle.photos.schemas import (
    AnimationAttemptOut,
    AttemptError,
    PhotoOut,
    PhotoSummary,
    RestoreAttemptOut,
)
from rekindle.storage import ObjectStore, keys


def _download_name(photo: Photo, suffix: str, extension: str) -> str:
    stem = Path(photo.original_filename or str(photo.id)).stem[:80] or str(photo.id)
    return f"{stem}{suffix}.{extension}"


def attempt_out(attempt: RestoreAttempt, store: ObjectStore, base_url: str) -> RestoreAttemptOut:
    photo = attempt.photo
    result_url = thumbnail_url = None
    if attempt.s3_key:
        result_url = store.download_url(
            attempt.s3_key,
            base_url=base_url,
            filename=_download_name(photo, f"-restored-{str(attempt.id)[:8]}", "jpg"),
        )
    if attempt.thumbnail_key:
        thumbnail_url = store.download_url(attempt.thumbnail_key, base_url=base_url)
    error = None
    if attempt.error_code:
        error = AttemptError(code=attempt.error_code, message=attempt.error_message or "")
    return RestoreAttemptOut(
        id=attempt.id,
        photo_id=attempt.photo_id,
        status=attempt.status,
        engine=attempt.engine,
        model=attempt.model,
        params=attempt.params,
        result_url=result_url,
        thumbnail_url=thumbnail_url,
        error=error,
        created_at=attempt.created_at,
        started_at=attempt.started_at,
        finished_at=attempt.finished_at,
    )


def animation_out(
    attempt: AnimationAttempt, store: ObjectStore, base_url: str
) -> AnimationAttemptOut:
    photo = attempt.photo
    short = str(attempt.id)[:8]

    def url(key: str | None, suffix: str | None = None) -> str | None:
        if not key:
            return None
        name = _download_name(photo, suffix, key.rsplit(".", 1)[-1]) if suffix else None
        return store.download_url(key, base_url=base_url, filename=name)

    def error(code: str | None, message: str | None) -> AttemptError | None:
        return AttemptError(code=code, message=message or "") if code else None

    return AnimationAttemptOut(
        id=attempt.id,
        photo_id=attempt.photo_id,
        status=attempt.status,
        engine=attempt.engine,
        model=attempt.model,
        source_restore_id=attempt.source_restore_id,
        params=attempt.params,
        preview_url=url(attempt.preview_key),
        thumbnail_url=url(attempt.thumbnail_key),
        is_hd=attempt.is_hd,
        hd_status=attempt.hd_status,
        result_url=url(attempt.result_key, f"-animated-hd-{short}"),
        error=error(attempt.error_code, attempt.error_message),
        hd_error=error(attempt.hd_error_code, attempt.hd_error_message),
        created_at=attempt.created_at,
        started_at=attempt.started_at,
        finished_at=attempt.finished_at,
    )


# Formats every browser shows: an older photo without a display copy can show its original.
_BROWSER_FORMATS = frozenset({"image/jpeg", "image/png", "image/webp"})


def display_url(photo: Photo, store: ObjectStore, base_url: str) -> str | None:
    """A signed URL (inline, no download name) of the photo's JPEG display copy; for a photo
    uploaded before display copies existed, of the original when browsers can show it, else None."""
    if photo.display_key:
        return store.download_url(photo.display_key, base_url=base_url)
    if photo.mime_type in _BROWSER_FORMATS:
        return store.download_url(photo.original_key, base_url=base_url)
    return None


def _summary_fields(photo: Photo, store: ObjectStore, base_url: str) -> dict[str, object]:
    extension = photo.original_key.rsplit(".", 1)[-1]
    processed_url = None
    if photo.processed_key and photo.status != PhotoStatus.UPLOADED:
        processed_url = store.download_url(
            photo.processed_key,
            base_url=base_url,
            filename=_download_name(photo, "-restored", "jpg"),
        )
    return {
        "id": photo.id,
        "status": photo.status,
        "original_filename": photo.original_filename,
        "size_bytes": photo.size_bytes,
        "mime_type": photo.mime_type,
        "width": photo.width,
        "height": photo.height,
        "checksum_sha256": photo.checksum_sha256,
        "original_url": store.download_url(
            photo.original_key, base_url=base_url, filename=_download_name(photo, "", extension)
        ),
        "original_display_url": display_url(photo, store, base_url),
        "thumbnail_url": (
            store.download_url(photo.thumbnail_key, base_url=base_url)
            if photo.thumbnail_key
            else None
        ),
        "processed_url": processed_url,
        "restored_thumbnail_url": (
            store.download_url(
                keys.thumbnail_key(photo.owner_id, photo.id, photo.selected_restore_id),
                base_url=base_url,
            )
            if processed_url and photo.selected_restore_id
            else None
        ),
        "selected_restore_id": photo.selected_restore_id,
        "created_at": photo.created_at,
        "updated_at": photo.updated_at,
    }


def photo_summary(photo: Photo, store: ObjectStore, base_url: str) -> PhotoSummary:
    return PhotoSummary.model_validate(_summary_fields(photo, store, base_url))


def photo_out(photo: Photo, store: ObjectStore, base_url: str) -> PhotoOut:
    attempts = [attempt_out(a, store, base_url) for a in reversed(photo.restore_attempts)]
    animations = [animation_out(a, store, base_url) for a in reversed(photo.animation_attempts)]
    return PhotoOut.model_validate(
        {
            **_summary_fields(photo, store, base_url),
            "restore_attempts": attempts,
            "animation_attempts": animations,
        }
    )
