"""Seed 004's job body: the photo's fields under the seed's names."""

from __future__ import annotations

import uuid

from pydantic import Field

from rekindle.models import Photo
from rekindle.photos.schemas import PhotoOut
from rekindle.photos.views import photo_out
from rekindle.storage import ObjectStore


class JobOut(PhotoOut):
    """A job is a photo (`id` is both); adds seed 004's `email`, `thumbnail_s3_key` and
    `latest_animation_id`.

    `selected_restore_id` (from PhotoOut) changes when a restoration completes (the newest
    completed attempt becomes the selected one) and when the user picks another completed attempt
    (`POST /photos/{id}/selected-restore`); accepting or failing a restoration leaves it as it
    was. `latest_animation_id` is the newest animation attempt, set as soon as
    `POST /jobs/{id}/animate` accepts it, whatever its outcome."""

    email: str | None = Field(description="Contact email given at upload")
    thumbnail_s3_key: str | None
    latest_animation_id: uuid.UUID | None = Field(
        description="The newest animation attempt (from POST /jobs/{id}/animate), or null"
    )


def job_out(photo: Photo, store: ObjectStore, base_url: str) -> JobOut:
    body = photo_out(photo, store, base_url).model_dump()
    return JobOut(
        **body,
        email=photo.metadata_json.get("email"),
        thumbnail_s3_key=photo.thumbnail_key,
        latest_animation_id=_latest_animation_id(photo),
    )


def _latest_animation_id(photo: Photo) -> uuid.UUID | None:
    # Derived, not stored, so it cannot fall behind: attempts are ordered by created_at.
    attempts = photo.animation_attempts
    return max(attempts, key=lambda a: (a.created_at, a.id)).id if attempts else None
