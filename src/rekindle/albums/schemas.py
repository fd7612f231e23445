"""Request and response bodies of the albums and export API."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field

from rekindle.photos.schemas import PhotoSummary

MAX_IDS = 500
"""Photo ids one request may name (album membership, batch restoration, export)."""


class AlbumIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)


class AlbumOut(BaseModel):
    id: uuid.UUID
    name: str
    photo_count: int
    created_at: datetime
    updated_at: datetime


class AlbumPage(BaseModel):
    items: list[AlbumOut]
    next_cursor: str | None


class AlbumWithPhotos(AlbumOut):
    """An album and one page of its photos, newest first (cursor pagination as `/photos`)."""

    items: list[PhotoSummary]
    next_cursor: str | None


class PhotoIds(BaseModel):
    photo_ids: list[uuid.UUID] = Field(min_length=1, max_length=MAX_IDS)


class ExportIn(BaseModel):
    """Body of `POST /exports`."""

    photo_ids: list[uuid.UUID] = Field(min_length=1, max_length=MAX_IDS)
    originals: bool = Field(False, description="Also include each original as uploaded")
    animations: bool = Field(False, description="Also include each photo's latest animation")


class ExportTicketOut(BaseModel):
    """A one-time download link of a ZIP export."""

    url: str = Field(
        description="Open it (no token needed) to download the ZIP; it works once, until "
        "`expires_at`"
    )
    expires_at: datetime
