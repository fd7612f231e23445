"""`scans`: an uploaded scan of several prints, kept while any photo cut from it lives."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from rekindle.db import Base, UTCDateTime, utcnow


class Scan(Base):
    __tablename__ = "scans"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    object_key: Mapped[str] = mapped_column(String(512))
    display_key: Mapped[str | None] = mapped_column(String(512))
    """A JPEG any browser shows (the scan may be HEIC or TIFF), at most 2560 px a side; None for
    scans stored before migration 0012."""
    mime_type: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    original_filename: Mapped[str | None] = mapped_column(String(255))
    # The detected prints: [{"quad": [[x, y] x 4], "angle_degrees": a, "fill": f}, ...]
    detected: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def stored_keys(self) -> list[str]:
        """Every stored object of the scan: the scan as uploaded and its display copy."""
        return [key for key in (self.object_key, self.display_key) if key]
