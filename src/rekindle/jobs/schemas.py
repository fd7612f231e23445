"""Seed 004's job body: the photo's fields under the seed's names."""

from __future__ import annotations

from pydantic import Field

from rekindle.models import Photo
from rekindle.photos.schemas import PhotoOut
from rekindle.photos.views import photo_out
from rekindle.storage import ObjectStore


class JobOut(PhotoOut):
    """A job is a photo (`id` is both); adds seed 004's `email` and `thumbnail_s3_key`."""

    email: str | None = Field(description="Contact email given at upload")
    thumbnail_s3_key: str | None


def job_out(photo: Photo, store: ObjectStore, base_url: str) -> JobOut:
    body = photo_out(photo, store, base_url).model_dump()
    return JobOut(
        **body,
        email=photo.metadata_json.get("email"),
        thumbnail_s3_key=photo.thumbnail_key,
    )
