"""Rows for tests that work on the database directly, below the API."""

from __future__ import annotations

import uuid
from typing import Any

from rekindle.models import Photo
from rekindle.storage import keys


def photo_row(owner: str, photo_id: uuid.UUID, **overrides: Any) -> Photo:
    """A 1×1 PNG photo row of `owner` (its original's key in the seed layout, nothing stored);
    `overrides` set other columns, e.g. `status`."""
    return Photo(**photo_values(owner, photo_id, **overrides))


def photo_values(owner: str, photo_id: uuid.UUID, **overrides: Any) -> dict[str, Any]:
    """The column values of `photo_row`, for a Core INSERT into an older schema (one that lacks
    columns added since: an ORM insert would name them)."""
    values: dict[str, Any] = {
        "id": photo_id,
        "owner_id": owner,
        "original_key": keys.original_key(owner, photo_id, "png"),
        "size_bytes": 3,
        "mime_type": "image/png",
        "checksum_sha256": "0" * 64,
        "width": 1,
        "height": 1,
    }
    return values | overrides
