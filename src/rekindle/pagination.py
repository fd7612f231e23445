"""Keyset pagination cursors: an opaque, URL-safe token for (created_at, id) of the last row seen."""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import UTC, datetime

from rekindle.errors import BadRequest


def encode_cursor(created_at: datetime, row_id: uuid.UUID) -> str:
    """The cursor that continues after the row (`created_at`, `row_id`)."""
    raw = f"{created_at.isoformat()}|{row_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    """(created_at, id) from a cursor. Raises BadRequest (`invalid_cursor`) for anything else,
    including a timestamp without a UTC offset: the columns compared with it are timezone-aware, and
    a naive value cannot be ordered against them (it is not one `encode_cursor` made)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created, row_id = raw.split("|")
        when = datetime.fromisoformat(created)
        if when.tzinfo is None or when.utcoffset() is None:
            raise ValueError("naive timestamp")
        return when.astimezone(UTC), uuid.UUID(row_id)
    except (ValueError, OverflowError, binascii.Error, UnicodeDecodeError) as exc:
        raise BadRequest("The cursor is not valid.", code="invalid_cursor") from exc
