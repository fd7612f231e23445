"""Keyset pagination cursors: an opaque, URL-safe token for (created_at, id) of the last row seen."""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Select, and_, or_
from sqlalchemy.orm import Session

from rekindle.errors import BadRequest

Row = TypeVar("Row")


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


def newest_first_page(
    session: Session, query: Select[Row], model: Any, *, cursor: str | None, limit: int
) -> tuple[list[Row], str | None]:
    """One page of `query`'s rows of `model` (which has `created_at` and `id`), newest first, and
    the cursor of the next page (None at the end). Raises BadRequest (`invalid_cursor`)."""
    query = query.order_by(model.created_at.desc(), model.id.desc())
    if cursor:
        created, row_id = decode_cursor(cursor)
        query = query.where(
            or_(model.created_at < created, and_(model.created_at == created, model.id < row_id))
        )
    rows = list(session.scalars(query.limit(limit + 1)))
    if len(rows) <= limit:
        return rows, None
    last: Any = rows[limit - 1]
    return rows[:limit], encode_cursor(last.created_at, last.id)
